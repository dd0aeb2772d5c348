"""Task environments of AgentMemoryBench, one folder per task: loader, environment, evaluator,
bundled sample data, and the parametrized test module that pytest collects."""

# Original config names of task families this version does not provide yet (registered under the entry-point
# group pytest_amb.planned_tasks, so that selecting one says "not available in this version").
PLANNED = ("kg-std", "kg-dev", "alfworld-std", "alfworld-dev", "webshop-std")

DEFAULT_TASK = "locomo"  # --amb-task's default (entry point pytest_amb.defaults: task)
