"""The run's figures, drawn from summary.json alone (matplotlib, headless Agg backend).

One figure per kind the mode measured: the CSR curve with LG/SL shading, immediate vs replay success per
stage, the FTG curve, and wrong- vs right-feedback bars for repair. Streams that differ only in their
memory share a panel, one line (or bar group) per memory, in the same colour in every figure. Each figure
is written as PNG and SVG under ``<run dir>/plots/``. Numbers are in the terminal's units: success rates
on a percent axis, labels printed as the terminal prints the metric (CSR 36.7%, RG -6.7 pp, FR 5.0%).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from matplotlib.ticker import MaxNLocator, PercentFormatter

from pytest_amb.metrics.table import show

PLOT_DIR = "plots"


@dataclass(frozen=True)
class Plot:
    name: str  # csr, replay, ftg, repair
    title: str
    png: Path
    svg: Path


def write_plots(summary: dict, run_path: Path) -> list[Plot]:
    import matplotlib

    matplotlib.use("Agg")
    streams = summary.get("streams") or []
    colours = _memory_colours(streams)
    directory = Path(run_path) / PLOT_DIR
    plots = []
    for name, title, has_data, draw in FIGURES:
        panels = _panels([s for s in streams if has_data(s)])
        if panels:
            plots.append(_write(directory, name, title, panels, draw, colours))
    return plots


def _memory_colours(streams: list[dict]) -> dict[str, str]:
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    memories = sorted({s.get("memory") or "?" for s in streams})
    return {memory: palette[n % len(palette)] for n, memory in enumerate(memories)}


def _panels(streams: list[dict]) -> dict[str, list[dict]]:
    """Streams grouped by everything but their memory (``<memory>/<task>[/seed-N]`` -> ``<task>[/seed-N]``)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for stream in streams:
        groups[stream["stream"].split("/", 1)[-1]].append(stream)
    return dict(groups)


def _write(directory: Path, name: str, title: str, panels: dict, draw, colours: dict) -> Plot:
    import matplotlib.pyplot as plt

    columns = min(len(panels), 3)
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(max(8.0, 5.4 * columns), 3.9 * rows), squeeze=False)
    for axis, (panel, streams) in zip(axes.flat, panels.items(), strict=False):
        draw(axis, streams, colours)
        axis.set_title(panel, fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="best")
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    figure.suptitle(title, fontsize=12)
    figure.tight_layout()
    directory.mkdir(parents=True, exist_ok=True)
    png, svg = directory / f"{name}.png", directory / f"{name}.svg"
    figure.savefig(png, dpi=110)
    with plt.rc_context({"svg.fonttype": "none"}):  # text stays text: searchable, and readable by a screen reader
        figure.savefig(svg)
    plt.close(figure)
    return Plot(name, title, png, svg)


def _draw_csr(axis, streams: list[dict], colours: dict) -> None:
    for stream in streams:
        csr = stream["csr"]["curve"]
        t = list(range(1, len(csr) + 1))
        colour = colours[stream.get("memory") or "?"]
        best_later = [c + g for c, g in zip(csr, stream["lg"]["curve"], strict=True)]
        best_before = [c + loss for c, loss in zip(csr, stream["sl"]["curve"], strict=True)]
        axis.fill_between(t, csr, best_later, facecolor="none", edgecolor=colour, alpha=0.5, hatch="///", linewidth=0)
        axis.fill_between(t, best_before, csr, color=colour, alpha=0.12, linewidth=0)
        label = (f"{stream.get('memory')}  CSR {show(stream['csr']['final'], 'percent').strip()}  "
                 f"LG {show(stream['lg']['mean'], 'number')}  SL {show(stream['sl']['mean'], 'number')}")  # fmt: skip
        axis.plot(t, csr, color=colour, linewidth=1.8, label=label)
    axis.set_xlabel("sample t (stream order)")
    axis.set_ylabel("CSR_t  (hatched: LG, solid: SL)")
    _percent_axis(axis)


def _draw_replay(axis, streams: list[dict], colours: dict) -> None:
    for stream in streams:
        stages = stream["replay"]["stages"]
        x = [int(s) for s in stages]
        colour = colours[stream.get("memory") or "?"]
        immediate = [stages[s]["immediate"] for s in stages]
        replay = [stages[s]["replay"] for s in stages]
        axis.plot(x, immediate, color=colour, marker="o", label=f"{stream.get('memory')} immediate")
        fr = stream["replay"]["fr"]
        suffix = "" if fr is None else f" (FR {show(fr, 'percent_value')})"
        axis.plot(x, replay, color=colour, marker="s", linestyle="--", label=f"{stream.get('memory')} replay{suffix}")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("stage")
    axis.set_ylabel("success")
    _percent_axis(axis)


def _draw_ftg(axis, streams: list[dict], colours: dict) -> None:
    for stream in streams:
        values = stream["forward_transfer"]["values"]
        colour = colours[stream.get("memory") or "?"]
        x = list(range(1, len(values) + 1))
        running = [sum(values[:k]) / k for k in x]
        axis.scatter(x, values, color=colour, s=12, alpha=0.45)
        axis.plot(
            x, running, color=colour, linewidth=1.8, label=f"{stream.get('memory')}  FTG {show(running[-1], 'signed')}"
        )
    axis.axhline(0, color="black", linewidth=0.8)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("probe (stream order)")
    axis.set_ylabel("FTG_ij (dots: probe, line: running mean)")


def _draw_repair(axis, streams: list[dict], colours: dict) -> None:
    labels = ("before", "wrong_test", "right_test")
    width = 0.8 / len(streams)
    for n, stream in enumerate(streams):
        full = stream["repair"]["full"]
        heights = [full[label] or 0.0 for label in labels]
        offsets = [i + (n - (len(streams) - 1) / 2) * width for i in range(len(labels))]
        rg = full["rg"]
        label = f"{stream.get('memory')}" + ("" if rg is None else f"  RG {show(rg, 'points')}")
        axis.bar(offsets, heights, width=width, color=colours[stream.get("memory") or "?"], label=label)
    axis.set_xticks(range(len(labels)), ["before\nfeedback", "after wrong\nfeedback", "after right\nfeedback"])
    axis.set_ylabel("success")
    _percent_axis(axis, bottom=0.0, top=1.05)


def _percent_axis(axis, bottom: float = -0.02, top: float = 1.02) -> None:
    """A success rate (0..1) on an axis labelled in percent, as the terminal prints it."""
    axis.set_ylim(bottom, top)
    axis.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))


FIGURES = (
    ("csr", "Cumulative success rate (CSR) with learning gain and stability loss",
     lambda s: s.get("n", 0) >= 2, _draw_csr),
    ("replay", "Immediate vs replay success per stage", lambda s: bool((s.get("replay") or {}).get("stages")), _draw_replay),
    ("ftg", "Forward transfer gain (FTG)", lambda s: bool((s.get("forward_transfer") or {}).get("values")), _draw_ftg),
    ("repair", "Repair: success before, after wrong and after right feedback", lambda s: "repair" in s, _draw_repair),
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """``python -m pytest_amb.report.plots <run dir>``: the figures of a finished run, from its summary.json (what
    ``--amb-plots`` draws at the end of a run)."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pytest_amb.report.plots <run dir>", file=sys.stderr)
        return 4
    run = Path(args[0])
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"amb: cannot read {run / 'summary.json'} ({exc}); give a run directory of a finished run", file=sys.stderr)
        return 4
    plots = write_plots(summary, run)
    if not plots:
        print(f"amb: {run} has nothing to draw (a curve needs a stream of at least two steps)")
    for plot in plots:
        print(f"{plot.png} {plot.svg}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
