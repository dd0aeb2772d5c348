"""The fixtures benchmark test modules use: ``amb_step`` (parametrized by the plugin with the plan's
steps) and ``amb_step_result`` (runs that step in the process-wide engine)."""

from __future__ import annotations

import pytest

from pytest_amb.names import RESULT_KEY, SESSION_PLUGIN, SKIPPED_KEY


def _bench(config):
    return config.pluginmanager.get_plugin(SESSION_PLUGIN)


@pytest.fixture(scope="session")
def amb_engine(request):
    """The process-wide engine: LLM clients, tasks and one memory per stream, created on first use (or by the
    warm-up before the first step, ``progress``)."""
    bench = _bench(request.config)
    yield bench.engine()
    bench.close_engine()


@pytest.fixture
def amb_step_result(request, amb_engine, amb_step):
    """Runs the step and returns its StepResult. A step that produced no verdict (endpoint down,
    harness crash, broken stream order) raises here, so pytest reports an ERROR, not a failure. What pytest
    prints (and writes into JUnit XML) per step is redacted and at most ``storage.FAILURE_LIMIT`` characters:
    the error message, and the explanation a test module puts in its ``assert``. A wrong answer that fails that
    ``assert`` is reported as UNSOLVED, not as a failure (``outcomes``)."""
    from pytest_amb.engine import INFRASTRUCTURE_ERRORS
    from pytest_amb.interfaces import EnvironmentUnavailable
    from pytest_amb.redaction import redact
    from pytest_amb.runner import ERROR, StepResult
    from pytest_amb.storage import failure_text

    try:
        result = amb_engine.run(amb_step)
    except EnvironmentUnavailable as exc:  # e.g. no container engine: this task's steps are skipped, the run goes on
        reason = failure_text(str(exc))
        family = _bench(request.config).families.get(amb_step.task, amb_step.task)
        from pytest_amb.budget import BudgetSpent

        request.node.stash[SKIPPED_KEY] = {"family": family, "reason": reason,  # for the results (session)
                                           "budget": isinstance(exc, BudgetSpent)}  # fmt: skip
        pytest.skip(reason)
    except Exception as exc:  # noqa: BLE001 (the step could not start: broken stream order, unloadable model, ...)
        kind = "infrastructure" if isinstance(exc, INFRASTRUCTURE_ERRORS) else "harness"
        result = StepResult(
            step=amb_step.to_json(),
            status=ERROR,
            error={"kind": kind, "type": type(exc).__name__, "message": redact(str(exc))},
        )
    payload = result.to_json()
    request.node.stash[RESULT_KEY] = payload
    for name in ("task", "sample_id", "phase", "memory_op"):
        request.node.user_properties.append((f"amb_{name}", payload["step"][name]))
    request.node.user_properties.append(("amb_reward", result.reward))
    if result.status == ERROR:
        error = payload["error"]
        pytest.fail(failure_text(f"{error['kind']} error ({error['type']}): {error['message']}"), pytrace=False)
    result.explanation = failure_text(result.explanation)
    return result
