"""The arithmetic task's benchmark items: one per step of each arithmetic stream in the plan."""

import pytest

pytestmark = pytest.mark.amb_task("arithmetic")


def test_arithmetic(amb_step_result):
    assert amb_step_result.passed, amb_step_result.explanation
