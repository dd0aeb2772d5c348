"""--amb-budget (pytest_amb.budget.Spending): no new step once the spending so far plus a step's mean cost would pass
the budget; replayed answers cost nothing; processes (xdist workers) sharing a run's spend folder see each other's
spending through ``<dir>/<pid>.json``."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from pytest_amb.budget import BudgetSpent, Spending, unpriced_models
from pytest_amb.interfaces import EnvironmentUnavailable
from pytest_amb.llm.client import CallRecord
from pytest_amb.llm.pricing import PriceTable

PRICES = PriceTable.bundled()
OTHER_WORKER = 4_000_000  # a pid that is not this process's (pids stay below 2**22 on Linux)


def call(prompt=100_000, completion=50_000, cached=40_000, *, from_cache=False, model="gpt-4o-mini") -> dict:
    """One call's JSON record, as a step result carries it."""
    return CallRecord(purpose="agent", operation="", model=model, endpoint="openai-compatible", prompt_tokens=prompt,
                      completion_tokens=completion, latency_s=0.1, cached_prompt_tokens=cached,
                      from_cache=from_cache).to_json()  # fmt: skip


# gpt-4o-mini in the bundled table: $0.15 input, $0.075 cached input, $0.60 output per million tokens. One call():
# 60,000 uncached prompt tokens, 40,000 cached and 50,000 completion tokens:
STEP_USD = (60_000 * 0.15 + 40_000 * 0.075 + 50_000 * 0.60) / 1e6  # = 0.009 + 0.003 + 0.030 = 0.042


def test_the_hand_computed_step_cost_is_what_is_counted():
    spending = Spending(None, PRICES, None)
    spending.add([call()])
    assert spending.spent == pytest.approx(STEP_USD) == pytest.approx(0.042)


def test_without_a_budget_nothing_is_ever_refused(tmp_path):
    spending = Spending(None, PRICES, tmp_path / "spend")
    for _ in range(50):
        spending.check()
        spending.add([call(prompt=10**7, completion=10**7, cached=0)])  # $7.50 a step
    spending.check()
    assert spending.spent == pytest.approx(50 * 7.5)
    assert not (tmp_path / "spend").exists()  # nothing to share without a budget


def test_the_step_that_would_pass_the_budget_is_refused_not_the_one_before():
    spending = Spending(0.125, PRICES, None)  # room for two steps and most of a third (3 x 0.042 = 0.126)
    spending.check()  # nothing spent, no mean yet
    spending.add([call()])
    spending.check()  # 0.042 spent + 0.042 a step = 0.084 <= 0.125
    spending.add([call()])
    with pytest.raises(BudgetSpent) as refused:  # 0.084 spent + 0.042 a step = 0.126 > 0.125
        spending.check()
    assert spending.spent == pytest.approx(2 * STEP_USD)
    message = str(refused.value)
    assert "--amb-budget" in message and "--amb-resume" in message and "\n" not in message
    assert "$0.125" in message  # the budget, as given
    assert isinstance(refused.value, EnvironmentUnavailable)  # a skipped step, not a failure


@pytest.mark.parametrize(("budget", "allowed"), [(2 * STEP_USD + 0.0001, True), (2 * STEP_USD - 0.0001, False)])
def test_the_mean_step_cost_is_what_decides(budget, allowed):
    spending = Spending(budget, PRICES, None)
    spending.add([call()])
    if allowed:
        spending.check()
    else:
        with pytest.raises(BudgetSpent):
            spending.check()


def test_the_mean_is_over_steps_not_calls():
    spending = Spending(1.0, PRICES, None)
    spending.add([call(), call()])  # one step of two calls: $0.084
    spending.add([call()])  # $0.042
    assert spending.priced_steps == 2
    assert spending.spent == pytest.approx(3 * STEP_USD)
    spending.budget = 3 * STEP_USD + 1.5 * STEP_USD + 0.0001  # spent + mean (0.063) fits, just
    spending.check()
    spending.budget -= 0.0002
    with pytest.raises(BudgetSpent):
        spending.check()


def test_a_budget_the_others_spent_refuses_a_process_without_steps_of_its_own(tmp_path):
    directory = tmp_path / "spend"
    directory.mkdir()
    (directory / f"{OTHER_WORKER}.json").write_text(json.dumps({"usd": 0.01, "steps": 1}))
    with pytest.raises(BudgetSpent):
        Spending(0.01, PRICES, directory).check()


def test_answers_replayed_from_the_cache_cost_nothing_and_do_not_lower_the_mean():
    spending = Spending(2 * STEP_USD + 0.0001, PRICES, None)
    spending.add([call()])
    for _ in range(10):
        spending.add([call(from_cache=True), call(from_cache=True)])  # a whole step from the cache
    assert spending.spent == pytest.approx(STEP_USD) and spending.priced_steps == 1
    spending.add([call(from_cache=True), call(prompt=0, completion=0, cached=0)])  # a step that sent one free call
    assert spending.spent == pytest.approx(STEP_USD) and spending.priced_steps == 2
    spending.check()  # 0.042 + 0.021 a step


def test_the_reference_model_costs_nothing():
    spending = Spending(0.001, PRICES, None)
    for _ in range(5):
        spending.add([call(model="reference")])
        spending.check()
    assert spending.spent == 0


# -- processes sharing one run ---------------------------------------------------------------------------------
def test_a_process_writes_its_total_where_the_others_read_it(tmp_path):
    directory = tmp_path / "spend" / "invocation-1"
    spending = Spending(1.0, PRICES, directory)
    spending.add([call()])
    spending.add([call()])
    written = json.loads((directory / f"{os.getpid()}.json").read_text())
    assert written == {"usd": pytest.approx(2 * STEP_USD), "steps": 2}
    assert sorted(p.name for p in directory.iterdir()) == [f"{os.getpid()}.json"]  # no temporary file left


def test_two_workers_see_each_others_spending(tmp_path):
    directory = tmp_path / "spend"
    mine = Spending(3 * STEP_USD + 0.0001, PRICES, directory)
    mine.add([call()])
    mine.check()  # alone: 0.042 + 0.042 fits
    # the other worker's file, in the documented format, as its own Spending.add writes it
    (directory / f"{OTHER_WORKER}.json").write_text(json.dumps({"usd": 2 * STEP_USD, "steps": 2}))
    assert mine.total()[0] == pytest.approx(3 * STEP_USD)
    with pytest.raises(BudgetSpent):
        mine.check()


def _other_worker(directory, results) -> None:
    worker = Spending(1.0, PRICES, directory)
    worker.add([call()])
    results.put(worker.total()[0])


def test_two_real_processes_see_each_others_spending(tmp_path):
    directory = tmp_path / "spend"
    mine = Spending(1.0, PRICES, directory)
    mine.add([call(), call()])
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    other = context.Process(target=_other_worker, args=(directory, results))
    other.start()
    seen_by_other = results.get(timeout=10)
    other.join(timeout=10)
    assert other.exitcode == 0
    assert seen_by_other == pytest.approx(3 * STEP_USD)  # its own step and this process's two calls
    assert mine.total()[0] == pytest.approx(3 * STEP_USD)
    assert len(list(directory.glob("*.json"))) == 2


def test_a_file_being_replaced_or_broken_is_skipped_not_fatal(tmp_path):
    directory = tmp_path / "spend"
    directory.mkdir()
    (directory / f"{OTHER_WORKER}.json").write_text('{"usd": 0.')  # cut mid-write
    (directory / f"{OTHER_WORKER + 1}.json").write_text('{"steps": 1}')
    (directory / f"{OTHER_WORKER + 2}.tmp").write_text('{"usd": 100, "steps": 1}')  # a temporary file
    (directory / f"{OTHER_WORKER + 3}.json").write_text('{"usd": 0.01, "steps": 1}')
    spending = Spending(1.0, PRICES, directory)
    assert spending.total()[0] == pytest.approx(0.01)
    spending.check()


def test_without_a_run_directory_only_this_process_counts(tmp_path):
    spending = Spending(1.0, PRICES, None)
    spending.add([call()])
    assert spending.total()[0] == pytest.approx(STEP_USD)


def test_a_worker_without_steps_of_its_own_uses_the_others_mean(tmp_path):
    directory = tmp_path / "spend"
    directory.mkdir()
    (directory / f"{OTHER_WORKER}.json").write_text(json.dumps({"usd": 2 * STEP_USD, "steps": 2}))
    fresh = Spending(2.5 * STEP_USD, PRICES, directory)  # 0.084 spent + 0.042 a step would pass 0.105
    with pytest.raises(BudgetSpent):
        fresh.check()


def test_unpriced_models_are_named_once_sorted():
    assert unpriced_models(["gpt-4o-mini", "my-model", "reference", "a-model", "my-model"], PRICES) == [
        "a-model", "my-model"]  # fmt: skip
