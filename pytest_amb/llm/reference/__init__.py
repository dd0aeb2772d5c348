"""The reference model: deterministic, LLM-free, served over real HTTP on loopback."""
