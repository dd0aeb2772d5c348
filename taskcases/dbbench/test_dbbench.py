"""dbbench benchmark items: one per step of each dbbench stream in the plan (one SQL sample each),
collected by pytest and parametrized by pytest-amb."""

import pytest

pytestmark = pytest.mark.amb_task("dbbench")


def test_dbbench(amb_step_result):
    assert amb_step_result.passed, amb_step_result.explanation
