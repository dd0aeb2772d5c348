"""os_interaction benchmark items: one per step of each os stream in the plan (one shell sample each, in a
fresh container), collected by pytest and parametrized by pytest-amb. Without a container engine they
are skipped, with the reason."""

import pytest

pytestmark = pytest.mark.amb_task("os")


def test_os(amb_step_result):
    assert amb_step_result.passed, amb_step_result.explanation
