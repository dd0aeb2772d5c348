"""pytest-xdist scheduling by stream (spec anchors_ecosystem §1.2).

Under ``-n N`` the steps of a stream that update memory (its *spine*), and the read-only steps that sit
between them, form one work unit: one worker, plan order. Read-only steps of the mode's fan-out phases
(``Mode.fan_out_phases``: offline ``test``, transfer ``target``, replay ``immediate_test``/``replay_test``,
``forward_test``) are split off in chunks that wait until the spine step they depend on (the last learning step before
them) has completed, then run on any worker from that step's memory checkpoint. Units are handed
out longest first. Items that are not benchmark steps are units of one. This replaces xdist's
``load``, ``loadscope``, ``loadfile``, ``loadgroup`` and ``worksteal`` whenever pytest-amb is active,
since any of them could split a stream; ``--dist each`` is refused.
"""

from __future__ import annotations

from collections import OrderedDict

import pytest

from pytest_amb.plan import Plan, memory_anchors

REFUSED = ("each",)
CHUNK = 4  # read-only steps per fanned-out unit


def param_of(nodeid: str) -> str | None:
    base = nodeid.rsplit("@", 1)[0] if "]@" in nodeid else nodeid  # loadgroup's "@group" suffix
    if not base.endswith("]") or "[" not in base:
        return None
    return base[base.index("[") + 1 : -1]


def work_units(plan: Plan) -> tuple[dict[str, str], dict[str, str]]:
    """(scope of each step id, the step id a fanned-out scope waits for). Pure: the same plan gives the
    same units in every process."""
    scopes: dict[str, str] = {}
    waits_for: dict[str, str] = {}
    for stream in plan.streams:
        ids = {step.position: step.id for step in stream.steps}
        pending: dict[int, list[str]] = {}
        for step, anchor in zip(stream.steps, memory_anchors(stream.steps)):
            if not step.update and step.phase in plan.fan_out_phases:
                pending.setdefault(anchor, []).append(step.id)
            else:
                scopes[step.id] = stream.id
        for anchor, step_ids in pending.items():
            for n in range(0, len(step_ids), CHUNK):
                scope = f"{stream.id}#after{anchor}.{n // CHUNK}"
                for step_id in step_ids[n : n + CHUNK]:
                    scopes[step_id] = scope
                if anchor >= 0:
                    waits_for[scope] = ids[anchor]
    return scopes, waits_for


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

        scopes, waits_for = work_units(self.bench.plan())

        class StreamScheduling(LoadScopeScheduling):
            """Units per stream spine and per fanned-out chunk; a chunk is held until its spine step is done."""

            def __init__(self, config, log=None):
                super().__init__(config, log)
                self.held: OrderedDict[str, tuple[str, dict]] = OrderedDict()
                self.completed: set[str] = set()

            def _split_scope(self, nodeid: str) -> str:
                return scopes.get(param_of(nodeid) or "", nodeid)

            def schedule(self) -> None:
                if (
                    self.collection is None
                    and self.collection_is_completed
                    and self._check_nodes_have_same_collection()
                ):
                    self._build_queue()
                    return
                super().schedule()

            def _build_queue(self) -> None:
                self.collection = list(next(iter(self.registered_collections.values())))
                units: dict[str, dict[str, bool]] = {}
                for nodeid in self.collection:
                    units.setdefault(self._split_scope(nodeid), {})[nodeid] = False
                collected = {param_of(n) for n in self.collection}
                for scope, unit in sorted(units.items(), key=lambda kv: -len(kv[1])):  # longest first
                    needed = waits_for.get(scope)
                    if needed is not None and needed in collected:  # deselected (a resumed run): already done
                        self.held[scope] = (needed, unit)
                    else:
                        self.workqueue[scope] = unit
                for node in self.nodes:
                    if self.workqueue:
                        self._assign_work_unit(node)
                for node in self.nodes:
                    self._reschedule(node)

            def mark_test_complete(self, node, item_index: int, duration: float = 0) -> None:
                self.completed.add(param_of(self.registered_collections[node][item_index]) or "")
                for scope, (needed, unit) in list(self.held.items()):
                    if needed in self.completed:
                        del self.held[scope]
                        self.workqueue[scope] = unit
                super().mark_test_complete(node, item_index, duration)
                for other in self.nodes:
                    if other is not node:
                        self._reschedule(other)

            def _reschedule(self, node) -> None:
                if node not in self.registered_collections:
                    return  # a replacement worker that has not collected yet; schedule() runs when it has
                if node.shutting_down or self.workqueue or not self.held:
                    super()._reschedule(node)
                    return
                # Nothing ready: keep the worker. A worker runs its last queued item only once it has a
                # successor (or is shut down), so the worker running a spine gets the chunks that wait for
                # that spine: they run after it there (FIFO), and the spine can finish.
                if self._pending_of(self.assigned_work[node]) > 2:
                    return
                mine = [scope for scope, (needed, _) in self.held.items() if self._runs(node, needed)]
                if mine:
                    _, unit = self.held.pop(mine[0])
                    self.workqueue[mine[0]] = unit
                    self.workqueue.move_to_end(mine[0], last=False)
                    self._assign_work_unit(node)

            def _runs(self, node, step_id: str) -> bool:
                return any(
                    param_of(nodeid) == step_id and not done
                    for unit in self.assigned_work.get(node, {}).values()
                    for nodeid, done in unit.items()
                )

            @property
            def tests_finished(self) -> bool:
                return not self.held and super().tests_finished

            @property
            def has_pending(self) -> bool:
                return bool(self.held) or super().has_pending

        config.option.loadscopereorder = True
        return StreamScheduling(config, log)
