"""``--amb-budget``: the money one pytest command may spend on LLM calls. No new step starts once the spending
so far plus what a step has cost on average would pass the budget; the steps not started are skipped, which
leaves the run partial, and ``--amb-resume`` finishes it (with a budget of its own).

Each process adds what its steps cost (answers replayed from the response cache cost nothing) and writes its
total to ``<run>/spend/<invocation>/<pid>.json``, so xdist workers see each other's spending; a resumed run is
a new invocation and starts from zero."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pytest_amb.interfaces import EnvironmentUnavailable
from pytest_amb.llm.pricing import PriceTable, total_cost


class BudgetSpent(EnvironmentUnavailable):
    """The budget does not allow another step; the step is skipped, not run."""


class Spending:
    def __init__(self, budget: float | None, prices: PriceTable, directory: Path | None):
        self.budget = budget
        self.prices = prices
        self.directory = directory  # None: only this process counts (no run directory)
        self.spent = 0.0  # by this process
        self.priced_steps = 0  # steps of this process that sent at least one request

    def check(self) -> None:
        """Raises BudgetSpent when the next step would pass the budget."""
        if self.budget is None:
            return
        spent, steps = self.total()
        expected = spent / steps if steps else 0.0  # the mean step of the whole invocation, every process's
        if spent + expected > self.budget or spent >= self.budget:
            raise BudgetSpent(  # the same text for every step (the results group skipped steps by it)
                f"the budget of ${self.budget:g} (--amb-budget) would be passed by the next step; the steps not "
                f"started are left for --amb-resume"
            )

    def add(self, llm_calls: list[dict]) -> None:
        """Counts a finished step's calls (their JSON records)."""
        billed = [call for call in llm_calls if not call.get("from_cache")]
        if not billed:
            return
        cost = total_cost(billed, self.prices).cost
        self.spent += cost or 0.0  # a model without a price is refused at configure time when a budget is set
        self.priced_steps += 1
        if self.directory is not None and self.budget is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            mine = self.directory / f"{os.getpid()}.json"
            temporary = mine.with_suffix(".tmp")
            temporary.write_text(json.dumps({"usd": self.spent, "steps": self.priced_steps}))
            os.replace(temporary, mine)

    def total(self) -> tuple[float, int]:
        """What this invocation has spent, and over how many priced steps: this process, and the others' files."""
        usd, steps = self.spent, self.priced_steps
        if self.directory is not None and self.directory.is_dir():
            for path in self.directory.glob("*.json"):
                if path.stem == str(os.getpid()):
                    continue
                try:
                    other = json.loads(path.read_text())
                    usd, steps = usd + float(other["usd"]), steps + int(other["steps"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # a file being replaced: counted at the next check
        return usd, steps


def unpriced_models(models: list[str], prices: PriceTable) -> list[str]:
    """The models a budget cannot be kept for: those without a price."""
    return sorted({model for model in models if prices.price(model) is None})
