"""The Docker implementation of :class:`~moorage.drivers.base.ContainerDriver`."""

from __future__ import annotations

import asyncio
import ssl
import time
from datetime import UTC, datetime
from typing import Any, Protocol

import aiodocker
import aiohttp

from moorage.drivers.base import (
    CommandResult,
    ContainerDriver,
    TerminalStream,
    WorkspaceContainer,
    WorkspaceNetwork,
    WorkspaceSpec,
)
from moorage.drivers.docker import commands, terminal, workspaces
from moorage.drivers.docker._errors import translated
from moorage.drivers.docker.engine_info import EngineInfo
from moorage.drivers.docker.stats import container_stats
from moorage.errors import Conflict, MoorageError, NotFound, RuntimeUnavailable

__all__ = ["DockerDriver", "EngineInfo", "docker_client"]


class Transport(Protocol):
    """What carries the client's connections when it is not a plain socket (an SSH
    tunnel): closed with the driver; ``last_error`` says why it last failed."""

    last_error: str | None

    async def forward(self, remote_host: str, remote_port: int) -> tuple[str, int]:
        """A local ``(host, port)`` whose connections reach ``remote_host:remote_port``
        as seen from the far host."""
        ...

    async def close(self) -> None: ...


def docker_client(
    url: str, timeout_seconds: float, ssl_context: ssl.SSLContext | None = None
) -> aiodocker.Docker:
    """An aiodocker client for ``url`` (``unix:///var/run/docker.sock``, ``tcp://…``).

    ``timeout_seconds`` bounds each API call; aiodocker lifts it for streams
    (attach, exec, logs), which must not time out while idle. ``ssl_context``
    turns a ``tcp://`` endpoint into HTTPS with client certificates.
    """
    timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=min(5.0, timeout_seconds))
    # Every open terminal, log follow and event stream holds one connection for as
    # long as it lasts; aiohttp's default pool of 100 then ran dry with a class of
    # 100 terminals, and every other Docker call timed out waiting for a slot.
    if url.startswith("unix://"):
        socket = aiohttp.UnixConnector(url.removeprefix("unix://"), limit=CONNECTIONS)
        # aiodocker composes request URLs on this host name for sockets, as it does
        # when it makes the connector itself.
        return aiodocker.Docker(url="unix://localhost", connector=socket, timeout=timeout)
    if url.startswith(("tcp://", "http://", "https://")):
        tcp = aiohttp.TCPConnector(
            ssl=ssl_context if ssl_context is not None else True, limit=CONNECTIONS
        )
        return aiodocker.Docker(url=url, connector=tcp, timeout=timeout)
    return aiodocker.Docker(url=url, timeout=timeout, ssl_context=ssl_context)


CONNECTIONS = 2048
"""The most connections a driver keeps open to its engine at once (streams included)."""


def _published_ports(info: dict[str, Any]) -> dict[int, int]:
    """Container port → host port from ``GET /containers/{id}/json`` (TCP only)."""
    ports: dict[int, int] = {}
    for key, bindings in (info.get("NetworkSettings", {}).get("Ports") or {}).items():
        port, _, protocol = key.partition("/")
        if protocol == "tcp" and bindings:
            ports[int(port)] = int(bindings[0]["HostPort"])
    return ports


class DockerDriver(ContainerDriver):
    """Runs workspaces on one Docker engine.

    Args:
        client: an aiodocker client, injected (see :func:`docker_client`); the
            driver closes it in :meth:`close`.
        endpoint: the endpoint's address, for messages.
        transport: what carries the connections (an SSH tunnel under ``ssh://``),
            closed after the client.
    """

    def __init__(
        self, client: aiodocker.Docker, endpoint: str, transport: Transport | None = None
    ) -> None:
        self._client = client
        self._endpoint = endpoint
        self._transport = transport
        self._network_id: str | None = None  # the workspaces bridge, once ensured
        self._network_lock = asyncio.Lock()

    @property
    def client(self) -> aiodocker.Docker:
        """The aiodocker client, for the resource modules of this package only
        (:mod:`.containers`, :mod:`.images` …); nothing outside ``drivers/`` uses it."""
        return self._client

    @property
    def endpoint(self) -> str:
        """The endpoint's address (``unix:///…``, ``tcp://…``, ``ssh://…``), for messages."""
        return self._endpoint

    @property
    def transport_error(self) -> str | None:
        """Why the transport under the client last failed (host key, login), if it did."""
        return self._transport.last_error if self._transport is not None else None

    async def reach(self, host_port: int, publish_address: str) -> tuple[str, int]:
        """The published port itself for an engine on this machine; through the
        transport (an SSH local forward to the far host's ``publish_address``) for
        one that has a transport (see :meth:`ContainerDriver.reach`)."""
        if self._transport is None:
            return publish_address, host_port
        return await self._transport.forward(publish_address, host_port)

    async def ping(self) -> str:
        async with translated(self._endpoint, "answer a version request"):
            version = await self._client.version()
        return str(version.get("Version", "unknown"))

    async def engine_info(self) -> EngineInfo:
        """The engine's version and object counts (``GET /info``).

        Raises:
            RuntimeUnavailable: the endpoint cannot be reached or fails.
        """
        async with translated(self._endpoint, "describe itself"):
            info = await self._client.system.info()
        return EngineInfo.of(info)

    async def image_present(self, image: str) -> bool:
        try:
            async with translated(self._endpoint, f"inspect the image {image}"):
                await self._client.images.inspect(image)
        except NotFound:
            return False
        except RuntimeUnavailable as exc:
            if exc.code == "image_missing":
                return False
            raise
        return True

    async def image_id(self, image: str) -> str | None:
        try:
            async with translated(self._endpoint, f"inspect the image {image}"):
                info = await self._client.images.inspect(image)
        except NotFound:
            return None
        except RuntimeUnavailable as exc:
            if exc.code == "image_missing":
                return None
            raise
        return str(info.get("Id") or "") or None

    async def exec_with_input(
        self, container_id: str, command: list[str], *, user: str, data: bytes
    ) -> None:
        container = self._client.containers.container(container_id)
        await workspaces.exec_with_input(
            self, container, command, user, data, f"run {command[0]} in the container"
        )

    async def run_command(
        self, container_id: str, command: list[str], *, user: str, max_output_bytes: int
    ) -> CommandResult:
        container = self._client.containers.container(container_id)
        return await commands.run_command(self, container, command, user, max_output_bytes)

    async def _workspaces_network(self, *, fresh: bool = False) -> str:
        """The id of the engine's workspaces bridge, ensured once per driver (again
        when ``fresh``: the cached one vanished). See :mod:`.workspaces`."""
        async with self._network_lock:
            if fresh or self._network_id is None:
                self._network_id = await workspaces.ensure_workspaces_network(self)
            return self._network_id

    async def create_workspace(self, spec: WorkspaceSpec) -> WorkspaceContainer:
        container = await self._create_container(spec, await self._workspaces_network())
        try:
            async with translated(self._endpoint, "start the container"):
                await container.start()
            if spec.secret is not None:
                await workspaces.deliver_secret(self, container, spec.secret)
            async with translated(self._endpoint, "inspect the container"):
                ports = _published_ports(await container.show()) if spec.ports else {}
        except BaseException:
            await asyncio.shield(self.remove(container.id))
            raise
        return WorkspaceContainer(container.id, spec.name, dict(spec.labels), "running", ports)

    async def _create_container(
        self, spec: WorkspaceSpec, network_id: str
    ) -> aiodocker.containers.DockerContainer:
        """Create (not start) ``spec``'s container on the workspaces bridge
        ``network_id``. A 404 means the bridge vanished since it was cached (an
        operator removed it): it is ensured again and the creation retried once."""
        isolation = workspaces.isolation_config(spec, network_id)
        config: dict[str, Any] = {
            "Image": spec.image,
            "Labels": spec.labels,
            "Env": isolation["Env"],
            "Tty": False,
            "OpenStdin": False,
            "ExposedPorts": {f"{port}/tcp": {} for port in spec.ports},
            "HostConfig": {
                "NanoCpus": int(spec.cpu_limit * 1e9),
                "Memory": spec.memory_limit_mb * 1024 * 1024,
                "MemorySwap": spec.memory_limit_mb * 1024 * 1024,
                "PidsLimit": 512,
                "Privileged": False,
                "CapDrop": ["ALL"],
                "CapAdd": list(spec.cap_add),
                "SecurityOpt": ["no-new-privileges"],
                "Init": True,
                "PortBindings": {
                    f"{port}/tcp": [{"HostIp": spec.publish_address, "HostPort": ""}]
                    for port in spec.ports
                },
                "PublishAllPorts": False,
                "RestartPolicy": {"Name": "no"},
                **isolation["HostConfig"],
            },
        }
        what = f"create the container for {spec.image}"
        try:
            async with translated(self._endpoint, what):
                return await self._client.containers.create(config=config, name=spec.name)
        except NotFound:
            network_id = await self._workspaces_network(fresh=True)
        config["HostConfig"]["NetworkMode"] = network_id
        async with translated(self._endpoint, what):
            return await self._client.containers.create(config=config, name=spec.name)

    async def wait_usable(self, container_id: str, user: str, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        delay = 0.02
        last_error = "no attempt"
        async with translated(self._endpoint, "check the container"):
            container = self._client.containers.container(container_id)
            while True:
                try:
                    exec_ = await container.exec(["true"], user=user, stdout=False, stderr=False)
                    await exec_.start(detach=True)
                    info = await exec_.inspect()
                    if not info.get("Running") and info.get("ExitCode") == 0:
                        return
                    last_error = f"probe exit code {info.get('ExitCode')}"
                except aiodocker.DockerError as exc:
                    last_error = str(exc.message)
                    if exc.status == 409:  # not running: it will not become usable
                        raise RuntimeUnavailable(
                            f"the container stopped while starting: {last_error}"
                        ) from exc
                if time.monotonic() + delay > deadline:
                    raise RuntimeUnavailable(
                        f"the container was not usable within {timeout_seconds:.0f} s "
                        f"({last_error})"
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def remove(self, container_id: str, *, wait_seconds: float = 30.0) -> None:
        """Remove the container (forced, with its anonymous volumes); returns once it
        is gone. The shared workspaces bridge stays. When another caller's removal
        is in progress (409), waits for that one.

        Raises:
            RuntimeUnavailable: Docker fails, or the other removal outlasts ``wait_seconds``.
        """
        container = self._client.containers.container(container_id)
        try:
            async with translated(self._endpoint, "remove the container"):
                await container.delete(force=True, v=True)
            return
        except NotFound:
            return  # already gone
        except Conflict:
            pass  # "removal already in progress": wait for it, so callers see it gone
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            try:
                async with translated(self._endpoint, "check the container's removal"):
                    await container.show()
            except NotFound:
                return
            await asyncio.sleep(0.1)
        raise RuntimeUnavailable(
            f"container {container_id[:12]} is still being removed after {wait_seconds:.0f} s"
        )

    async def stop_workspace(self, container_id: str, *, grace_seconds: int = 10) -> None:
        container = self._client.containers.container(container_id)
        async with translated(self._endpoint, "stop the container"):
            # Docker answers 304 for a container already stopped: success. The call
            # lasts up to the grace period, so its HTTP timeout is lifted past it.
            await container.stop(t=grace_seconds, timeout=grace_seconds + 30.0)

    async def start_workspace(
        self, container_id: str, *, secret: str | None = None
    ) -> WorkspaceContainer:
        container = self._client.containers.container(container_id)
        async with translated(self._endpoint, "inspect the container"):
            info = await container.show()
        if not (info.get("State") or {}).get("Running"):
            try:
                async with translated(self._endpoint, "start the container"):
                    await container.start()
                if secret is not None:
                    await workspaces.deliver_secret(self, container, secret)
            except BaseException:
                # Left stopped, as it was: a later start tries again from scratch.
                await asyncio.shield(self._stop_quietly(container_id))
                raise
            async with translated(self._endpoint, "inspect the container"):
                info = await container.show()
        return WorkspaceContainer(
            id=str(info["Id"]),
            name=str(info.get("Name", "")).lstrip("/"),
            labels=dict((info.get("Config") or {}).get("Labels") or {}),
            state=str((info.get("State") or {}).get("Status", "running")),
            ports=_published_ports(info),
        )

    async def _stop_quietly(self, container_id: str) -> None:
        try:
            await self.stop_workspace(container_id, grace_seconds=2)
        except MoorageError:
            pass  # the caller's own error says what failed

    async def cpu_percent(self, container_id: str) -> float | None:
        try:
            stats = await container_stats(self, container_id)
        except NotFound:
            return None
        return float(stats["cpu_percent"])

    async def tty_input_at(self, container_id: str) -> datetime | None:
        script = "stat -c %X /dev/pts/[0-9]* 2>/dev/null; true"
        output = b""
        async with translated(self._endpoint, f"read the terminals of {container_id}"):
            container = self._client.containers.container(container_id)
            exec_ = await container.exec(["sh", "-c", script], stdout=True, stderr=False)
            async with exec_.start(detach=False) as stream:
                while (message := await stream.read_out()) is not None:
                    output += message.data
        times = [int(word) for word in output.split() if word.isdigit()]
        return datetime.fromtimestamp(max(times), UTC) if times else None

    async def list_workspaces(self, label: str) -> list[WorkspaceContainer]:
        async with translated(self._endpoint, "list containers"):
            containers = await self._client.containers.list(all=True, filters={"label": [label]})
        result = []
        for container in containers:
            raw = container._container  # the list entry aiodocker received
            names = raw.get("Names") or [""]
            result.append(
                WorkspaceContainer(
                    id=raw["Id"],
                    name=names[0].lstrip("/"),
                    labels=dict(raw.get("Labels") or {}),
                    state=str(raw.get("State", "")),
                )
            )
        return result

    async def list_networks(self, label: str) -> list[WorkspaceNetwork]:
        return await workspaces.list_labelled_networks(self, label)

    async def remove_network(self, network_id: str) -> None:
        await workspaces.remove_network(self, network_id)

    async def open_terminal(
        self, container_id: str, *, user: str, command: list[str], cols: int, rows: int
    ) -> TerminalStream:
        return await terminal.open_terminal(
            self, container_id, user=user, command=command, cols=cols, rows=rows
        )

    async def close(self) -> None:
        connector = self._client.connector
        await self._client.close()
        if connector is not None and not connector.closed:
            await connector.close()  # docker_client's own, which aiodocker leaves open
        if self._transport is not None:
            await self._transport.close()
