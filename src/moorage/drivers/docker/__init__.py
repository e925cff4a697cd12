"""Docker driver (aiodocker)."""

from moorage.drivers.docker.driver import DockerDriver, docker_client

__all__ = ["DockerDriver", "docker_client"]
