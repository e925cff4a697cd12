"""An in-memory :class:`ContainerDriver` for unit tests.

Behaves like the contract says (idempotent remove, NotFound/Conflict on
terminals) and lets a test make the endpoint unreachable or slow.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime

from moorage.drivers.base import (
    CommandResult,
    ContainerDriver,
    TerminalStream,
    WorkspaceContainer,
    WorkspaceNetwork,
    WorkspaceSpec,
)
from moorage.errors import Conflict, NotFound, RuntimeUnavailable

__all__ = ["WORKSPACES_NETWORK", "FakeDriver", "FakeTerminal"]

WORKSPACES_NETWORK = "moorage-workspaces"
"""The shared network every fake workspace joins (as on Docker)."""


class FakeTerminal(TerminalStream):
    """Echoes what is written, like a TTY in cooked mode; records resizes."""

    def __init__(self) -> None:
        self._output: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sizes: list[tuple[int, int]] = []
        self.closed = False

    async def read(self) -> bytes | None:
        return await self._output.get()

    async def write(self, data: bytes) -> None:
        await self._output.put(data)

    async def resize(self, cols: int, rows: int) -> None:
        self.sizes.append((cols, rows))

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self._output.put(None)


class FakeDriver(ContainerDriver):
    """Containers live in :attr:`containers`; networks in :attr:`networks` (by
    name: the shared :data:`WORKSPACES_NETWORK`, created on first launch, and any a
    test adds); the network each container joined in :attr:`joined` and the secret
    it was given in :attr:`secrets` (both by container id). Set :attr:`reachable`
    to False to simulate a Docker outage; :attr:`images` lists the images that
    exist."""

    def __init__(self, images: set[str] | None = None) -> None:
        self.containers: dict[str, WorkspaceContainer] = {}
        self.images = images if images is not None else {"moorage/terminal:latest"}
        self.reachable = True
        self.fail_usable = False
        self.removed: list[str] = []
        self.terminals: list[FakeTerminal] = []
        self.networks: dict[str, WorkspaceNetwork] = {}
        self.joined: dict[str, str] = {}
        self.secrets: dict[str, str] = {}
        self.envs: dict[str, dict[str, str]] = {}
        self.starts: list[str] = []
        """Ids of the containers :meth:`start_workspace` started again, in order."""
        self.port_shift = 0
        """Added to a container's host ports when it is started again."""
        self.cpu: dict[str, float] = {}
        """CPU % of containers by id for :meth:`cpu_percent` (0 when absent)."""
        self.tty_input: dict[str, datetime] = {}
        """Last terminal input of containers by id for :meth:`tty_input_at`."""
        self.image_ids: dict[str, str] = {}
        """Image ids by reference, for tests that "rebuild" an image."""
        self.execs: list[tuple[str, list[str], str, bytes]] = []
        """Every :meth:`exec_with_input`: container id, command, user, input."""
        self.commands: list[tuple[str, list[str], str]] = []
        """Every :meth:`run_command`: container id, command, user."""
        self.command_results: dict[str, CommandResult | BaseException] = {}
        """What :meth:`run_command` answers (or raises) by container id; exit 0 and
        no output when absent."""
        self.command_delay_seconds = 0.0
        """How long :meth:`run_command` takes."""

    def _check(self) -> None:
        if not self.reachable:
            raise RuntimeUnavailable("Docker at fake:// is unreachable")

    async def ping(self) -> str:
        self._check()
        return "fake-1.0"

    async def image_present(self, image: str) -> bool:
        self._check()
        return image in self.images

    async def image_id(self, image: str) -> str | None:
        """``sha256:<image>`` unless :attr:`image_ids` says otherwise; None when absent."""
        self._check()
        if image not in self.images:
            return None
        return self.image_ids.get(image, f"sha256:{image}")

    async def exec_with_input(
        self, container_id: str, command: list[str], *, user: str, data: bytes
    ) -> None:
        """Records ``(container_id, command, user, data)`` in :attr:`execs`."""
        self._check()
        container = self.containers.get(container_id)
        if container is None:
            raise NotFound(f"no such container: {container_id}")
        if container.state != "running":
            raise RuntimeUnavailable(f"container {container_id[:12]} is not running")
        self.execs.append((container_id, list(command), user, data))

    async def run_command(
        self, container_id: str, command: list[str], *, user: str, max_output_bytes: int
    ) -> CommandResult:
        """Records ``(container_id, command, user)`` in :attr:`commands`; answers
        :attr:`command_results` (output cut to ``max_output_bytes``)."""
        self._check()
        container = self.containers.get(container_id)
        if container is None:
            raise NotFound(f"no such container: {container_id}")
        if container.state != "running":
            raise Conflict(f"container {container_id[:12]} is not running")
        self.commands.append((container_id, list(command), user))
        if self.command_delay_seconds:
            await asyncio.sleep(self.command_delay_seconds)
        result = self.command_results.get(container_id, CommandResult(0, b""))
        if isinstance(result, BaseException):
            raise result
        cut = result.output[:max_output_bytes]
        return replace(result, output=cut, truncated=result.truncated or cut != result.output)

    async def create_workspace(self, spec: WorkspaceSpec) -> WorkspaceContainer:
        self._check()
        if spec.image not in self.images:
            raise RuntimeUnavailable(f"no such image: {spec.image}", code="image_missing")
        if any(c.name == spec.name for c in self.containers.values()):
            raise Conflict(f"container name {spec.name} is in use")
        if WORKSPACES_NETWORK not in self.networks:
            self.networks[WORKSPACES_NETWORK] = WorkspaceNetwork(
                uuid.uuid4().hex * 2, WORKSPACES_NETWORK, {"moorage.workspaces": "1"}
            )
        ports = {port: 40000 + len(self.containers) for port in spec.ports}
        container = WorkspaceContainer(
            uuid.uuid4().hex * 2, spec.name, dict(spec.labels), "running", ports
        )
        self.containers[container.id] = container
        self.envs[container.id] = dict(spec.env)
        self.joined[container.id] = WORKSPACES_NETWORK
        if spec.secret is not None:
            self.secrets[container.id] = spec.secret
        return container

    async def wait_usable(self, container_id: str, user: str, timeout_seconds: float) -> None:
        self._check()
        if self.fail_usable or container_id not in self.containers:
            raise RuntimeUnavailable("the container was not usable")

    async def remove(self, container_id: str) -> None:
        self._check()
        container = self.containers.pop(container_id, None)
        if container is not None:
            self.removed.append(container_id)
            self.joined.pop(container_id, None)

    async def stop_workspace(self, container_id: str, *, grace_seconds: int = 10) -> None:
        self._check()
        container = self.containers.get(container_id)
        if container is None:
            raise NotFound(f"no such container: {container_id}")
        self.containers[container_id] = replace(container, state="exited")

    async def start_workspace(
        self, container_id: str, *, secret: str | None = None
    ) -> WorkspaceContainer:
        """Starts it again with its ports moved by :attr:`port_shift` (Docker may
        publish a restarted container on other host ports) and records ``secret``."""
        self._check()
        container = self.containers.get(container_id)
        if container is None:
            raise NotFound(f"no such container: {container_id}")
        if container.state != "running":
            ports = {port: host + self.port_shift for port, host in container.ports.items()}
            container = replace(container, state="running", ports=ports)
            self.containers[container_id] = container
            if secret is not None:
                self.secrets[container_id] = secret
            self.starts.append(container_id)
        return container

    async def list_networks(self, label: str) -> list[WorkspaceNetwork]:
        self._check()
        return [n for n in self.networks.values() if label in n.labels]

    async def remove_network(self, network_id: str) -> None:
        self._check()
        for name, network in list(self.networks.items()):
            if network_id in (network.id, name):
                del self.networks[name]

    async def cpu_percent(self, container_id: str) -> float | None:
        self._check()
        if container_id not in self.containers:
            return None
        return self.cpu.get(container_id, 0.0)

    async def tty_input_at(self, container_id: str) -> datetime | None:
        self._check()
        return self.tty_input.get(container_id)

    async def list_workspaces(self, label: str) -> list[WorkspaceContainer]:
        self._check()
        return [c for c in self.containers.values() if label in c.labels]

    async def open_terminal(
        self, container_id: str, *, user: str, command: list[str], cols: int, rows: int
    ) -> TerminalStream:
        self._check()
        if container_id not in self.containers:
            raise NotFound(f"no such container: {container_id}")
        terminal = FakeTerminal()
        await terminal.resize(cols, rows)
        self.terminals.append(terminal)
        return terminal

    async def close(self) -> None:
        return None
