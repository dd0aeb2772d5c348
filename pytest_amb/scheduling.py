"""pytest-xdist scheduling by stream (spec anchors_ecosystem §1.2).

Under ``-n N`` every stream is one work unit: all its steps go to one worker, in plan order (collection
order, which ``session.py`` sets). Units are handed out longest first, so the largest streams start
first and the load evens out. Items that are not benchmark steps are units of one. This replaces
xdist's ``load``, ``loadscope``, ``loadfile``, ``loadgroup`` and ``worksteal`` whenever pytest-amb is
active, since any of them could split a stream; ``--dist each`` (every item on every worker) is refused.
"""

from __future__ import annotations

import pytest

REFUSED = ("each",)


def stream_of_nodeid(nodeid: str, streams: dict[str, str]) -> str | None:
    """The stream of a benchmark item's node id (its parameter id is the step id), else None."""
    base = nodeid.rsplit("@", 1)[0] if "]@" in nodeid else nodeid  # loadgroup's "@group" suffix
    if not base.endswith("]") or "[" not in base:
        return None
    return streams.get(base[base.index("[") + 1 : -1])


class StreamSchedulingPlugin:
    """Registered on the controller when pytest-xdist is present."""

    def __init__(self, bench):
        self.bench = bench

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config, log):
        dist = config.getoption("dist", "load")
        if dist in REFUSED:
            raise pytest.UsageError(
                f"--dist {dist} runs every item on every worker, which would run each benchmark stream several "
                "times; use -n N alone (pytest-amb schedules whole streams)"
            )
        from xdist.scheduler import LoadScopeScheduling

        streams = {step.id: step.stream for step in self.bench.plan().steps()}

        class StreamScheduling(LoadScopeScheduling):
            """One unit per stream (plan order inside), longest first; other items one per unit."""

            def _split_scope(self, nodeid: str) -> str:
                return stream_of_nodeid(nodeid, streams) or nodeid

        config.option.loadscopereorder = True  # longest stream first, whatever the command line said
        return StreamScheduling(config, log)
