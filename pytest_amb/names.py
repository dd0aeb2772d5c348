"""Names the plugin's modules share (kept apart so that no two of them import each other)."""

STEP_FIXTURE = "amb_step"
TASK_MARKER = "amb_task"
SESSION_PLUGIN = "amb-bench-session"
REPORT_ATTRIBUTE = "amb_result"  # JSON-only step result carried on the test report (survives xdist)
