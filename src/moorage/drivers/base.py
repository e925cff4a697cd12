"""The container driver contract.

A driver talks to one runtime endpoint (one Docker environment). Moorage's
services call it; they never talk to aiodocker themselves. Every method
translates the lower library's errors into :mod:`moorage.errors`:
:class:`~moorage.errors.RuntimeUnavailable` when the endpoint cannot be
reached or times out, :class:`~moorage.errors.NotFound` for a missing object
where the method says so.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "SECRET_FILE",
    "CommandResult",
    "ContainerDriver",
    "TerminalStream",
    "WorkspaceContainer",
    "WorkspaceNetwork",
    "WorkspaceSpec",
]

SECRET_FILE = "/run/moorage/secret"
"""Where a workspace's secret is written (on a tmpfs, never in the environment); the
container's ``MOORAGE_SECRET_FILE`` variable names it for the image's entrypoint."""


@dataclass(frozen=True)
class WorkspaceSpec:
    """What to run for one session.

    Attributes:
        name: container name, unique on the endpoint.
        image: image reference, e.g. ``moorage/terminal:latest``.
        labels: Docker labels; ``moorage.*`` labels mark Moorage's containers.
        cpu_limit: CPU limit in cores (``1.5`` = one and a half cores).
        memory_limit_mb: memory limit in MiB; swap is not allowed beyond it.
        env: environment variables of the main process; never secrets (``docker
            inspect`` shows them): see ``secret``.
        ports: container TCP ports to publish, each on a random host port of
            ``publish_address`` (never on all interfaces).
        publish_address: host address the ports are published on.
        cap_add: Linux capabilities granted on top of none (all are dropped first),
            e.g. what sshd needs to switch users.
        secret: a password or token for the image's entrypoint, or None. The
            container gets a tmpfs at ``/run/moorage`` and ``MOORAGE_SECRET_FILE=``
            :data:`SECRET_FILE`; the secret is written there (mode 0600, as the
            image's user) right after start. The entrypoint waits for the file,
            reads it and deletes it.
        placement: the template's placement labels (``{"site": "lab-2"}``); a driver
            that schedules over several nodes (Docker Swarm) runs the workspace only
            on a node carrying them all. A single engine ignores them (placement chose
            the environment already).
    """

    name: str
    image: str
    labels: dict[str, str]
    cpu_limit: float
    memory_limit_mb: int
    env: dict[str, str] = field(default_factory=dict)
    ports: tuple[int, ...] = ()
    publish_address: str = "127.0.0.1"
    cap_add: tuple[str, ...] = ()
    secret: str | None = None
    placement: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkspaceNetwork:
    """A labelled network as the runtime reports it. Workspaces share one bridge
    per engine (see :meth:`ContainerDriver.create_workspace`); the networks listed
    by label ``moorage.session`` are the per-session bridges earlier versions
    created, which the reconciler sweeps.

    Attributes:
        id: full network id.
        name: network name (``moorage-<session id>`` for a per-session bridge).
        labels: its labels (a per-session bridge carries its container's labels).
    """

    id: str
    name: str
    labels: dict[str, str]


@dataclass(frozen=True)
class WorkspaceContainer:
    """A container as the runtime reports it.

    Attributes:
        id: full container id.
        name: container name without the leading ``/``.
        labels: its labels.
        state: Docker's state word: ``created``, ``running``, ``exited``, ``dead`` …
        ports: published ports, container port → host port (TCP).
    """

    id: str
    name: str
    labels: dict[str, str]
    state: str
    ports: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandResult:
    """How a command run in a container ended.

    Attributes:
        exit_code: its exit status (0 for success; 126/127 when it could not run).
        output: its standard output and error as they came, at most the byte count
            the caller allowed (Docker copies the two streams apart, so the order of
            output and error between them may differ from the program's).
        truncated: True when more output came than was kept.
    """

    exit_code: int
    output: bytes
    truncated: bool = False


class TerminalStream(ABC):
    """A bidirectional byte stream to a process with a TTY."""

    @abstractmethod
    async def read(self) -> bytes | None:
        """The next chunk of output, or ``None`` once the process has ended.

        Never times out: an idle shell may be silent for hours.
        """

    @abstractmethod
    async def write(self, data: bytes) -> None:
        """Send ``data`` to the process's standard input."""

    @abstractmethod
    async def resize(self, cols: int, rows: int) -> None:
        """Set the TTY size in character cells. Errors after the process ended are ignored."""

    @abstractmethod
    async def close(self) -> None:
        """Close the stream; idempotent. The process gets a hang-up."""


class ContainerDriver(ABC):
    """Runs workspace containers on one endpoint. Instances are cheap to hold and
    are kept for the life of the process (one pooled client per environment)."""

    @abstractmethod
    async def ping(self) -> str:
        """The engine version (e.g. ``"26.1.5"``).

        Raises:
            RuntimeUnavailable: the endpoint does not answer within the timeout.
        """

    @abstractmethod
    async def image_present(self, image: str) -> bool:
        """True when ``image`` (e.g. ``moorage/terminal:latest``) exists on the endpoint.

        Raises:
            RuntimeUnavailable: the endpoint cannot be reached.
        """

    @abstractmethod
    async def image_id(self, image: str) -> str | None:
        """The id (``sha256:…``) of ``image`` on the endpoint, or None when it is absent;
        a rebuilt or re-pulled image has a new id under the same reference.

        Raises:
            RuntimeUnavailable: the endpoint cannot be reached.
        """

    @abstractmethod
    async def exec_with_input(
        self, container_id: str, command: list[str], *, user: str, data: bytes
    ) -> None:
        """Run ``command`` as ``user`` (empty: the image's user) in the running container,
        with ``data`` on its standard input (so a secret appears in no command line,
        environment or ``docker inspect``), and wait for it to exit. No end-of-file
        follows ``data``: the command reads exactly ``len(data)`` bytes (``head -c``).
        Not idempotent in general (the command decides).

        Raises:
            NotFound: the container does not exist.
            RuntimeUnavailable: the endpoint cannot be reached, the container is not
                running, or the command exited non-zero (the message has its exit
                code and the start of its output).
        """

    @abstractmethod
    async def run_command(
        self, container_id: str, command: list[str], *, user: str, max_output_bytes: int
    ) -> CommandResult:
        """Run ``command`` as ``user`` (empty: the image's user) in the running
        container without a TTY or standard input, wait for it to exit and answer
        its exit code and the first ``max_output_bytes`` of its output (the rest is
        read and dropped). Never times out by itself: the caller bounds it (a
        cancelled call leaves the command running in the container unless it ends
        by itself). Not idempotent in general (the command decides).

        Raises:
            NotFound: the container does not exist.
            Conflict: the container is not running.
            RuntimeUnavailable: the endpoint cannot be reached.
        """

    @abstractmethod
    async def create_workspace(self, spec: WorkspaceSpec) -> WorkspaceContainer:
        """Create and start a container for ``spec`` on the engine's shared
        workspaces network. Not idempotent for the container.

        The network (one bridge per engine, ``moorage-workspaces``, labelled
        ``moorage.workspaces=1``) is created on first use with inter-container
        communication disabled: workspaces cannot reach each other, while
        outbound traffic and DNS work as on the default bridge, and an engine
        holds as many workspaces as it has room for (not one address pool per
        session). Published ports stay on ``spec.publish_address``. When
        ``spec.secret`` is set it is written to :data:`SECRET_FILE` before this
        returns (see :class:`WorkspaceSpec`).

        On failure nothing is left behind: a container that was created but
        could not be started (or given its secret) is removed before the error is
        raised; the shared network stays.

        Raises:
            RuntimeUnavailable: endpoint unreachable, the image is absent (code
                ``image_missing``), or a network of the shared network's name
                exists that lets its containers reach each other (refused).
        """

    @abstractmethod
    async def wait_usable(self, container_id: str, user: str, timeout_seconds: float) -> None:
        """Return once a command run as ``user`` succeeds in the container.

        Raises:
            RuntimeUnavailable: not usable within ``timeout_seconds``, or the
                container stopped.
        """

    @abstractmethod
    async def remove(self, container_id: str) -> None:
        """Stop and remove the container with its anonymous volumes (the shared
        workspaces network stays). Idempotent: a container that is already gone
        is success.

        Raises:
            RuntimeUnavailable: the endpoint cannot be reached (the caller retries).
        """

    @abstractmethod
    async def stop_workspace(self, container_id: str, *, grace_seconds: int = 10) -> None:
        """Stop the container, keeping it and its disk (its writable layer and
        volumes) for :meth:`start_workspace`: SIGTERM, then SIGKILL after
        ``grace_seconds``. Idempotent: a container already stopped is success.

        Raises:
            NotFound: the container does not exist.
            RuntimeUnavailable: the endpoint cannot be reached.
        """

    @abstractmethod
    async def start_workspace(
        self, container_id: str, *, secret: str | None = None
    ) -> WorkspaceContainer:
        """Start a container stopped by :meth:`stop_workspace` again, with the same
        configuration (image, limits, network, publish address). Its tmpfs at
        ``/run/moorage`` is empty after a stop, so ``secret`` (the one the
        container was created with) is written to :data:`SECRET_FILE` again
        before this returns. Idempotent: a container already running is
        returned as it is (its secret is not written twice).

        Returns:
            The running container; ``ports`` are its published ports now, which the
            engine may have moved to other host ports.

        Raises:
            NotFound: the container does not exist.
            RuntimeUnavailable: the endpoint cannot be reached, or the container could
                not be started or given its secret (it is left stopped).
        """

    async def cpu_percent(self, container_id: str) -> float | None:
        """The container's CPU use now, in % of one core (200 = two cores busy), as
        ``docker stats`` shows it; None when this driver cannot tell (the default) or
        the container is gone. Takes about a second (two samples).

        Raises:
            RuntimeUnavailable: the endpoint cannot be reached.
        """
        return None

    async def tty_input_at(self, container_id: str) -> datetime | None:
        """When a terminal in the container last read input: the latest access time
        of its pseudo-terminals (``/dev/pts/N``; Linux updates it, at 8-second
        granularity, when a key reaches the terminal: how ``w`` tells idle time). An
        SSH login with data on its channel shows here. None when there is none or this
        driver cannot tell (the default).

        Raises:
            RuntimeUnavailable: the endpoint cannot be reached.
        """
        return None

    @abstractmethod
    async def list_workspaces(self, label: str) -> list[WorkspaceContainer]:
        """Every container, running or not, that carries the label key ``label``.

        Raises:
            RuntimeUnavailable: the endpoint cannot be reached.
        """

    @abstractmethod
    async def list_networks(self, label: str) -> list[WorkspaceNetwork]:
        """Every network that carries the label key ``label`` (the reconciler lists
        ``moorage.session`` to sweep per-session bridges left by earlier versions).

        Raises:
            RuntimeUnavailable: the endpoint cannot be reached.
        """

    @abstractmethod
    async def remove_network(self, network_id: str) -> None:
        """Remove a network (by id or name), disconnecting what is still attached.
        Idempotent: a network that is already gone is success.

        Raises:
            RuntimeUnavailable: the endpoint cannot be reached (the caller retries).
        """

    @abstractmethod
    async def open_terminal(
        self, container_id: str, *, user: str, command: list[str], cols: int, rows: int
    ) -> TerminalStream:
        """Start ``command`` with a TTY of ``cols`` × ``rows`` as ``user`` (a Docker exec).

        Raises:
            NotFound: the container does not exist.
            Conflict: the container is not running.
            RuntimeUnavailable: the endpoint cannot be reached.
        """

    async def reach(self, host_port: int, publish_address: str) -> tuple[str, int]:
        """Where this process connects to a workspace port that the engine published
        as ``host_port`` on ``publish_address`` of the engine's host: ``(host, port)``.

        The default is that address itself (an engine on this machine). An engine on
        another host answers with a local end that carries the connection there (an
        SSH tunnel's forwarded port), so nothing on that host listens beyond loopback.

        Raises:
            RuntimeUnavailable: the engine's host cannot be reached.
        """
        return publish_address, host_port

    @abstractmethod
    async def close(self) -> None:
        """Release the client's connections. Idempotent."""
