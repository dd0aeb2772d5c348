"""The LLM layer: one OpenAI-compatible client and the deterministic reference model."""
