"""Names the plugin's modules share (kept apart so that no two of them import each other)."""

import pytest

STEP_FIXTURE = "amb_step"
TASK_MARKER = "amb_task"
SESSION_PLUGIN = "amb-bench-session"
REPORT_ATTRIBUTE = "amb_result"  # JSON-only step result carried on the test report (survives xdist)
OUTCOME_ATTRIBUTE = "amb_outcome"  # "solved" / "unsolved" on a benchmark sample's call report (survives xdist)
SKIP_ATTRIBUTE = "amb_skipped"  # {"family", "reason"} on the report of a step whose environment is unavailable
RESULT_KEY = pytest.StashKey[dict]()  # on the item: the step result the fixture hands to the report hooks
SKIPPED_KEY = pytest.StashKey[dict]()  # on the item: {"family", "reason"} when the fixture skipped the step
