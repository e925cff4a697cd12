"""Docker driver (aiodocker): the :class:`DockerDriver` and, one module per concept,
the resources an operator manages (containers, logs, stats, events, images, volumes,
networks, prune, compose stacks). Every function translates aiodocker's errors into
:mod:`moorage.errors` at this boundary (see :mod:`._errors`)."""

from moorage.drivers.docker.driver import DockerDriver, EngineInfo, docker_client

__all__ = ["DockerDriver", "EngineInfo", "docker_client"]
