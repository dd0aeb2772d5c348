import pytest


@pytest.fixture(scope="session", autouse=True)
def _import_native_libraries_once():
    """In-process pytester runs restore sys.modules after each run; torch and faiss cannot be imported
    a second time in one process (it crashes), so import them once, before any pytester snapshot."""
    import faiss  # noqa: F401
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401
