import pytest


@pytest.fixture(scope="session", autouse=True)
def _import_native_libraries_once():
    """In-process pytester runs restore sys.modules after each run; torch and faiss cannot be imported
    a second time in one process (it crashes), so import them once, before any pytester snapshot."""
    import faiss  # noqa: F401
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401


@pytest.fixture
def endpoint():
    """The reference model behind a fault-injecting OpenAI-compatible server on loopback."""
    from tests.support.faulty_reference import FaultyReference

    server = FaultyReference().start()
    yield server
    server.stop()


OFFLINE_BASE = "localhost/amb-base:bookworm"  # built by extra/os/build-base-image.sh where no registry is reachable


@pytest.fixture(scope="session")
def engine(amb_container_engine):
    """The container engine (the test skips without one, or fails under AMB_REQUIRE_CONTAINERS=1)."""
    return amb_container_engine


@pytest.fixture(scope="session")
def base_image(engine):
    """The image the os images build FROM: AMB_OS_BASE_IMAGE, else the offline base if present, else the
    Dockerfiles' default."""
    from taskcases.os_interaction import images

    chosen = images.resolve_base_image(None)
    if chosen is None and engine.has_image(OFFLINE_BASE):
        chosen = OFFLINE_BASE
    return chosen
