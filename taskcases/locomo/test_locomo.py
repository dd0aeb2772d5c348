"""LoCoMo benchmark items: one per step of each LoCoMo stream in the plan (session injections and
questions), collected by pytest and parametrized by pytest-amb."""

import pytest

pytestmark = pytest.mark.amb_task("locomo")


def test_locomo(amb_step_result):
    assert amb_step_result.passed, amb_step_result.explanation
