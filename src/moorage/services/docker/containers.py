"""Containers of an environment (operators): list, inspect, create, rename, act, remove,
logs (read or followed), stats. Every change is audited as ``container.<verb>``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from moorage.drivers.docker import containers, logs
from moorage.drivers.docker.stats import container_stats
from moorage.errors import InvalidInput
from moorage.schemas.environment import ContainerCreate
from moorage.services.docker._operation import Caller, DockerService
from moorage.services.docker.host_access import check_bind_strings, refuse

__all__ = ["ContainerService", "parse_tail"]


def parse_tail(value: str) -> int | None:
    """A ``tail`` parameter: a number of lines, or ``all`` (None; so is ``0``).

    Raises:
        InvalidInput: anything else (field ``tail``).
    """
    if value == "all":
        return None
    if not value.isdigit():
        raise InvalidInput("tail must be a number of lines or 'all'", field="tail")
    return int(value) or None


def _config(body: ContainerCreate) -> dict[str, Any]:
    """The Docker ``ContainerConfig`` of a form; ports bind to their ``host_ip``."""
    host: dict[str, Any] = {
        "RestartPolicy": {"Name": body.restart_policy},
        "Binds": body.volumes,
        "PortBindings": {
            f"{port.container_port}/{port.protocol}": [
                {"HostIp": port.host_ip, "HostPort": str(port.host_port or "")}
            ]
            for port in body.ports
        },
    }
    if body.cpu_limit:
        host["NanoCpus"] = int(body.cpu_limit * 1e9)
    if body.memory_limit_mb:
        host["Memory"] = body.memory_limit_mb * 1024 * 1024
    config: dict[str, Any] = {
        "Image": body.image,
        "Env": [f"{k}={v}" for k, v in body.env.items()],
        "Labels": body.labels,
        "HostConfig": host,
        "ExposedPorts": {f"{p.container_port}/{p.protocol}": {} for p in body.ports},
    }
    if body.command:
        config["Cmd"] = body.command
    return config


class ContainerService(DockerService):
    """Containers of the caller's environments. Every method raises Forbidden below
    operator, NotFound for an unknown environment or container, RuntimeUnavailable
    when the engine cannot be reached, Conflict when Docker refuses in this state."""

    async def list_containers(
        self,
        caller: Caller,
        env: str,
        *,
        state: str | None = None,
        name: str | None = None,
        label: str | None = None,
        stack: str | None = None,
        size: bool = False,
    ) -> list[dict[str, Any]]:
        """Containers, running or not (shape: :func:`.containers.list_containers`)."""
        target = await self.target(caller, env)
        return await containers.list_containers(
            target.driver, state=state, name=name, label=label, stack=stack, size=size
        )

    async def inspect(self, caller: Caller, env: str, ref: str) -> dict[str, Any]:
        """The engine's inspect document of container ``ref`` (id or name)."""
        target = await self.target(caller, env)
        return await containers.inspect_container(target.driver, ref)

    async def create(self, caller: Caller, env: str, body: ContainerCreate) -> str:
        """Create (and, with ``body.start``, start) a container; returns its id.

        Raises:
            InvalidInput: a bind of a host path in ``volumes`` (field ``volumes[i]``)
                while the environment's ``allow_host_access`` is off. The form has no
                privileged, host-namespace, capability or device fields at all (see
                :mod:`moorage.services.docker.host_access`).
        """
        async with self.operation(
            caller, env, "container.create", body.name or "", detail=body.image
        ) as op:
            if not op.environment.allow_host_access:
                refuse(check_bind_strings(body.volumes))
            container_id = await containers.create_container(
                op.driver, _config(body), body.name, start=body.start
            )
            op.object_id = body.name or container_id
        return container_id

    async def rename(self, caller: Caller, env: str, ref: str, name: str) -> None:
        """Rename container ``ref`` to ``name``."""
        async with self.operation(caller, env, "container.rename", ref, detail=name) as op:
            await containers.rename_container(op.driver, ref, name)

    async def act(self, caller: Caller, env: str, ref: str, action: str) -> None:
        """``start``, ``stop``, ``restart``, ``kill``, ``pause`` or ``unpause``
        (InvalidInput for anything else)."""
        async with self.operation(caller, env, f"container.{action}", ref) as op:
            await containers.container_action(op.driver, ref, action)

    async def remove(self, caller: Caller, env: str, ref: str, *, volumes: bool = False) -> None:
        """Remove a container (forced); with ``volumes`` its anonymous volumes too."""
        async with self.operation(caller, env, "container.remove", ref) as op:
            await containers.remove_container(op.driver, ref, volumes=volumes)

    async def read_logs(
        self,
        caller: Caller,
        env: str,
        ref: str,
        *,
        tail: int | None,
        since: int | None = None,
        timestamps: bool = False,
    ) -> list[tuple[str, str]]:
        """The last ``tail`` lines (all when None) as ``(stream, line)`` pairs."""
        target = await self.target(caller, env)
        return await logs.read_logs(
            target.driver, ref, tail=tail, since=since, timestamps=timestamps
        )

    async def follow_logs(
        self,
        caller: Caller,
        env: str,
        ref: str,
        *,
        tail: int | None,
        since: int | None = None,
        timestamps: bool = False,
    ) -> AsyncIterator[tuple[str, list[str]]]:
        """A live log stream of ``(stream, [line, …])`` batches, unbuffered and without
        a read timeout. The checks (role, environment, container exists) run now, so
        their errors come before the first byte; the stream runs as it is read."""
        target = await self.target(caller, env)
        await containers.inspect_container(target.driver, ref)
        return logs.follow_log_batches(
            target.driver, ref, tail=tail, since=since, timestamps=timestamps
        )

    async def stats(self, caller: Caller, env: str, ref: str) -> dict[str, Any]:
        """One usage sample (shape: :func:`.stats.container_stats`)."""
        target = await self.target(caller, env)
        return await container_stats(target.driver, ref)
