#!/usr/bin/env bash
# Builds the local base image for the os_interaction task images on machines that cannot pull images:
# a Debian bookworm root filesystem made with debootstrap (from the Debian archive, which such machines
# reach), imported as an image. The task Dockerfiles then build FROM it (AMB_OS_BASE_IMAGE) without network.
#
# The base carries what the "default" image needs, installed, and npm's packages downloaded but NOT installed
# (in apt's cache, with the package lists), so the "packages" image installs npm offline and "default"
# stays without npm as in the original.
#
# Usage: extra/os/build-base-image.sh [IMAGE]          (default localhost/amb-base:bookworm)
# Env:   AMB_BASE_CACHE_DIR  where the root filesystem tarball is cached (default /var/cache/pytest-amb)
#        AMB_BASE_MIRROR     Debian mirror (default http://deb.debian.org/debian)
#        AMB_BASE_ENGINE     podman or docker (default: podman if installed, else docker)
# Needs root (debootstrap). Does nothing when the image exists; reuses the cached tarball when present.
set -euo pipefail

IMAGE="${1:-localhost/amb-base:bookworm}"
SUITE=bookworm
MIRROR="${AMB_BASE_MIRROR:-http://deb.debian.org/debian}"
CACHE_DIR="${AMB_BASE_CACHE_DIR:-/var/cache/pytest-amb}"
INSTALLED="python3 python3-pip git vim curl wget unzip zip tree procps file less ca-certificates"
DOWNLOADED_ONLY="npm"

ENGINE="${AMB_BASE_ENGINE:-}"
if [ -z "$ENGINE" ]; then
    if command -v podman >/dev/null; then ENGINE=podman; elif command -v docker >/dev/null; then ENGINE=docker; else
        echo "build-base-image: neither podman nor docker is installed (apt-get install -y podman runc)" >&2
        exit 1
    fi
fi

if "$ENGINE" image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "build-base-image: $IMAGE exists; nothing to do"
    exit 0
fi

# The tarball's name changes with everything that changes its content.
KEY=$(printf '%s\n' "$SUITE" "$MIRROR" "$INSTALLED" "$DOWNLOADED_ONLY" "$(sha256sum "$0" | cut -c1-64)" | sha256sum | cut -c1-12)
TARBALL="$CACHE_DIR/amb-base-$SUITE-$KEY.tar"

if [ ! -s "$TARBALL" ]; then
    command -v debootstrap >/dev/null || {
        echo "build-base-image: debootstrap is missing (apt-get install -y debootstrap)" >&2
        exit 1
    }
    mkdir -p "$CACHE_DIR"
    ROOT=$(mktemp -d "${TMPDIR:-/tmp}/amb-base-root.XXXXXX")
    trap 'rm -rf "$ROOT" "$ROOT.log"' EXIT
    started=$(date +%s)
    echo "build-base-image: debootstrap $SUITE into $ROOT (packages: $INSTALLED)"
    debootstrap --variant=minbase --include="${INSTALLED// /,}" "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || {
        tail -20 "$ROOT.log" >&2
        exit 1
    }
    echo "build-base-image: downloading (not installing) $DOWNLOADED_ONLY"
    echo "deb $MIRROR $SUITE main" >"$ROOT/etc/apt/sources.list"
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
    APT="apt-get -qq -o APT::Sandbox::User=root"
    chroot "$ROOT" $APT clean # the packages debootstrap installed
    chroot "$ROOT" $APT update
    chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive $APT install -y --no-install-recommends --download-only \
        $DOWNLOADED_ONLY >/dev/null
    # The containers' own resolver config is written by the engine; keep none in the image.
    : >"$ROOT/etc/resolv.conf"
    tar -C "$ROOT" --numeric-owner -cf "$TARBALL.partial" .
    mv "$TARBALL.partial" "$TARBALL"
    echo "build-base-image: root filesystem cached as $TARBALL ($(du -h "$TARBALL" | cut -f1), $(($(date +%s) - started)) s)"
fi

"$ENGINE" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]' "$TARBALL" "$IMAGE" >/dev/null
echo "build-base-image: imported $IMAGE from $TARBALL"
