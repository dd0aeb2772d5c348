"""LoCoMo: long-conversation QA, AgentMemoryBench's personal-memory task."""
