"""pytest-amb: AgentMemoryBench as a pytest plugin.

This package must stay import-cheap: pytest imports the plugin entry point in every run.
Heavy dependencies (the HTTP client, onnxruntime, faiss) are imported only where a benchmark step needs them.
"""

__version__ = "0.1.0"
