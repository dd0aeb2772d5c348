"""Real containers for any task, driven by the docker SDK against a Docker Engine or Podman's Docker-compatible
API (see docs/containers.md).

| module | job |
|---|---|
| ``engine.py`` | ``ContainerEngine``: discovery, labelled and limited containers, sweep |
| ``images.py`` | content-hashed image builds from a Dockerfile folder the caller names |
| ``sandbox.py`` | ``ContainerSandbox``: one container with a persistent shell and a non-TTY exec |
| ``shell.py`` | the persistent TTY ``bash --login`` inside a sandbox |
| ``terminal.py`` | reading that shell's terminal stream (pure) |
| ``api.py`` | the engine's low-level exec API and the errors talking to an engine can raise |
| ``service.py`` | the harness service "containers" a task family asks for: one engine per process |
| ``fixtures.py`` | the ``amb_container_engine`` pytest fixture and the end-of-session sweep |

Nothing is imported here, so registering the fixtures costs no docker import.
"""
