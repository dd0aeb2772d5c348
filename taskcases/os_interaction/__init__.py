"""os_interaction: shell tasks in a fresh container per sample (Docker or Podman)."""

from pathlib import Path

from pytest_amb.option_spec import OptionSpec, parse_bool, parse_optional_text
from pytest_amb.tasks import TaskFamily
from taskcases.os_interaction import reference, task

FAMILY = TaskFamily(
    name="os",
    root=Path(__file__).parent,
    bundled="data/data/*.json",
    # os-std: the original's data/1..7/*.json, in sorted order (its glob order is filesystem-dependent)
    original={"os-dev": "os_interaction/data/dev.json", "os-std": "os_interaction/data/[1-7]/*.json"},
    load=task.load,
    index=task.index,
    build=task.build,
    options=(
        OptionSpec(
            "os_base_image",
            "os_interaction: base image the task images are built FROM (default: the Dockerfiles' ubuntu:22.04; "
            "offline machines use a locally imported root filesystem, see extra/README.md)",
            metavar="IMAGE",
            parse=parse_optional_text,
        ),
        OptionSpec(
            "os_init_network",
            "os_interaction: give a sample's init scripts the engine's bridge network (e.g. for apt-get), "
            "disconnected before its start script and the agent's first command; recorded with every result "
            "(true/false, default false: no network at all)",
            default="false",
            metavar="BOOL",
            parse=parse_bool,
        ),
    ),
    services=("containers",),
    plugin="taskcases.os_interaction.fixtures",
    reference=reference.POLICIES,
    order=3,
    description="Linux shell tasks in a fresh, network-less container per sample",
)
