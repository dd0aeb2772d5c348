"""Task environments of AgentMemoryBench, one folder per task: loader, environment, evaluator,
bundled sample data, and the parametrized test module that pytest collects."""
