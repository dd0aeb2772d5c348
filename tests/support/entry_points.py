"""Installing a package the way pip would, for the tests of third-party extensions: a dist-info folder with
the package's entry points, and the package's folder, on sys.path."""

from pathlib import Path


def install(monkeypatch, site: Path, distribution: str, group: str, entry: str, source: Path) -> None:
    dist = site / f"{distribution}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")
    monkeypatch.syspath_prepend(str(source))
    monkeypatch.syspath_prepend(str(site))
