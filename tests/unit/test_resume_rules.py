"""Which journaled results stand and what a resume runs (pytest_amb/resume.py), on synthetic journals: the latest
attempt of a step wins, results chain by the digests of the memory they read and left, a stream can always be
resumed (a missing checkpoint re-runs the learning step that wrote it), and the journal is only appended to."""

import json

from pytest_amb import resume
from pytest_amb.journal import Journal, latest_attempts, read_steps
from pytest_amb.plan import Plan, Step, Stream
from pytest_amb.resume import INITIAL, KEEP, RECHECK, RUN


def _plan(*updates):
    """One stream; step i updates memory when updates[i] (else it only reads it)."""
    steps = tuple(Step("m/t", i, "t", "sample", f"x{i}", "online", True, u) for i, u in enumerate(updates))
    return Plan("online", (Stream("m/t", ("t",), "m", 66, steps),))


def _attempt(plan, position, status="passed", read=None, wrote=None):
    step = plan.streams[0].steps[position]
    return {"step": step.to_json(), "status": status,
            "provenance": {"memory_state": {"read": read, "wrote": wrote}}}  # fmt: skip


def _chain(plan, n):
    """A clean journal of the first n steps of a stream of learning steps: memory d0, d1, ... after each."""
    return [_attempt(plan, i, read=f"d{i - 1}" if i else INITIAL, wrote=f"d{i}") for i in range(n)]


def test_the_latest_attempt_of_a_step_supersedes_an_earlier_error():
    plan = _plan(True, True)
    journal = [_attempt(plan, 0, "error"), *_chain(plan, 2)]
    found = resume.assess(journal, plan)
    assert found.to_run == [] and found.missing == []
    assert [r["status"] for r in found.results] == ["passed", "passed"]
    assert latest_attempts(journal)["m/t/0000-x0"]["status"] == "passed"


def test_after_a_learning_step_errors_the_later_results_are_rechecked_not_dropped():
    plan = _plan(True, True, True, False)
    journal = _chain(plan, 4)
    journal[1] = _attempt(plan, 1, "error", read="d0")  # e.g. the agent's endpoint failed: memory unchanged
    journal[2] = _attempt(plan, 2, read="d0", wrote="d2")
    journal[3] = _attempt(plan, 3, read="d2")
    found = resume.assess(journal, plan)
    assert found.status == {"m/t/0000-x0": KEEP, "m/t/0001-x1": RUN, "m/t/0002-x2": RECHECK, "m/t/0003-x3": RECHECK}
    assert found.recheck["m/t/0002-x2"] == {"read": "d0", "wrote": "d2"}
    assert found.missing == ["m/t/0001-x1"] and len(found.results) == 4  # the ERROR counts as an error


def test_a_result_that_read_a_memory_a_later_attempt_changed_is_stale():
    plan = _plan(True, True, False)
    journal = [*_chain(plan, 3), _attempt(plan, 1, read="d0", wrote="d1-new")]
    journal[2] = _attempt(plan, 2, read="d1")
    found = resume.assess(journal, plan)
    assert found.status["m/t/0001-x1"] == KEEP and found.status["m/t/0002-x2"] == RUN
    assert found.why["m/t/0002-x2"] == resume.STALE and found.missing == ["m/t/0002-x2"]
    assert [r["step"]["position"] for r in found.results] == [0, 1]


def test_a_read_only_step_that_errored_runs_again_alone():
    plan = _plan(True, False, False, True)
    journal = [*_chain(plan, 1), _attempt(plan, 1, "error", read="d0"), _attempt(plan, 2, read="d0"),
               _attempt(plan, 3, read="d0", wrote="d3")]  # fmt: skip
    found = resume.assess(journal, plan)
    assert found.to_run == ["m/t/0001-x1"] and found.expected["m/t/0001-x1"] == "d0"


def _memory(content):
    class Fake:
        def save(self, path):
            (path / "state.json").write_text(json.dumps(content))

    return Fake()


def test_a_missing_or_damaged_checkpoint_re_runs_the_learning_step_that_wrote_it(tmp_path):
    plan = _plan(True, True, False)
    root = tmp_path / "checkpoints"
    d0 = resume.save_checkpoint(_memory([0]), root, "m/t", 0)
    d1 = resume.save_checkpoint(_memory([0, 1]), root, "m/t", 1)
    assert d0 != d1 == resume.tree_digest(resume.checkpoint_path(root, "m/t", 1))
    journal = [_attempt(plan, 0, read=INITIAL, wrote=d0), _attempt(plan, 1, read=d0, wrote=d1),
               _attempt(plan, 2, "error", read=d1)]  # fmt: skip
    assert resume.plan_resume(journal, plan, root).to_run == ["m/t/0002-x2"]
    (resume.checkpoint_path(root, "m/t", 1) / "state.json").write_text("[0, 1, 2]")  # damaged
    found = resume.plan_resume(journal, plan, root)
    assert found.to_run == ["m/t/0001-x1", "m/t/0002-x2"] and found.why["m/t/0001-x1"] == resume.REBUILD
    assert found.missing == ["m/t/0002-x2"]  # step 1's result still stands; it only runs to rebuild the memory
    for position in (0, 1):
        resume.mark_unusable(resume.checkpoint_path(root, "m/t", position), "cannot be loaded")
    assert resume.plan_resume(journal, plan, root).to_run == ["m/t/0000-x0", "m/t/0001-x1", "m/t/0002-x2"]


def test_a_complete_run_keeps_the_last_checkpoint_of_each_stream(tmp_path):
    root = tmp_path / "checkpoints"
    for position in range(3):
        resume.save_checkpoint(_memory([position]), root, "m/t", position)
    resume.mark_broken(root, "m/u", 0, "its update failed")
    assert resume.broken_reason(root, "m/u", 0) == "its update failed"
    resume.prune_checkpoints(root)
    assert [p.name for p in resume.stream_folder(root, "m/t").iterdir()] == ["00002"]
    assert list(resume.stream_folder(root, "m/u").iterdir()) == []


def test_the_journal_is_appended_to_after_a_line_cut_by_a_crash(tmp_path):
    (tmp_path / "steps.jsonl").write_text('{"step": {"id": "a"}, "status": "passed"}\n{"step": {"id": "b"}, "sta')
    journal = Journal(tmp_path, "hash")
    journal.start({"run_id": "x"})
    journal.append({"step": {"id": "b"}, "status": "passed"})
    journal.close()
    assert (tmp_path / "steps.jsonl").read_text().startswith('{"step": {"id": "a"}, "status": "passed"}\n{"step"')
    assert [s["step"]["id"] for s in read_steps(tmp_path)] == ["a", "b"]


def test_the_command_that_finishes_a_run_resumes_it_by_id_without_its_secrets(tmp_path):
    from types import SimpleNamespace

    from pytest_amb.run_location import RunLocation
    from pytest_amb.session import BenchSession

    args = ("--amb-db-url=mysql://u:secretpw@h:1", "--amb-resume", "latest", "-n", "2", "tests/x.py")
    pytest_config = SimpleNamespace(invocation_params=SimpleNamespace(args=args))
    bench = BenchSession(pytest_config, SimpleNamespace(resume="latest"))
    bench.location = RunLocation(tmp_path / "20261121-014310-0f669d")
    command = bench.finish_command()
    assert command == "pytest --amb-db-url=mysql://u:***@h:1 -n 2 tests/x.py --amb-resume=20261121-014310-0f669d"


def test_an_unchanged_memory_links_the_previous_checkpoint_instead_of_saving_again(tmp_path):
    root = tmp_path / "checkpoints"
    digest = resume.save_checkpoint(_memory([0, 1]), root, "m/t", 0)
    previous = resume.checkpoint_path(root, "m/t", 0)
    assert resume.link_checkpoint(previous, root, "m/t", 1) == digest
    linked = resume.find_checkpoint(root, "m/t", 1)
    assert linked is not None and resume.tree_digest(linked) == digest == resume.checkpoint_digest(linked)
    assert linked.is_symlink() and linked.resolve() == previous.resolve()  # nothing written again
    assert resume.link_checkpoint(linked, root, "m/t", 2) == digest  # a link to a link points at the folder
    assert resume.checkpoint_path(root, "m/t", 2).resolve() == previous.resolve()
    resume.mark_broken(root, "m/t", 2, "its update failed")  # a later attempt replaces the link, not the folder
    assert resume.broken_reason(root, "m/t", 2) and resume.find_checkpoint(root, "m/t", 0) is not None
    assert resume.save_checkpoint(_memory([0, 1]), root, "m/t", 2) == digest
    resume.link_checkpoint(previous, root, "m/t", 3)
    resume.prune_checkpoints(root)  # a complete run keeps the last one, a folder of its own
    (last,) = resume.stream_folder(root, "m/t").iterdir()
    assert last.name == "00003" and not last.is_symlink() and resume.tree_digest(last) == digest
