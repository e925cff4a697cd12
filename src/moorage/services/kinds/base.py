"""The contract of a workspace kind: what its container needs and when it is usable.

A template's ``kind`` (``terminal``, ``ssh``, ``vnc``, ``rdp``, ``http``) names
one :class:`WorkspaceKind`. :meth:`SessionService.launch
<moorage.services.sessions.SessionService.launch>` asks it, in this order, for
the ports to publish, the environment and secret of the container, and to wait
until the started container is usable; pages and the API ask it how a user
connects. Adding a kind is one module and one line in :mod:`.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from moorage.drivers.base import ContainerDriver, WorkspaceContainer
from moorage.models.template import Template

__all__ = [
    "AccountKind",
    "KindEnvironment",
    "KindPaths",
    "StartedWorkspace",
    "WorkspaceKind",
]


@dataclass(frozen=True)
class KindEnvironment:
    """What a kind adds to its container.

    Attributes:
        env: environment variables of the container's main process; never a
            secret (``docker inspect`` shows them).
        secret: the password or token the session keeps (sealed in
            ``secret_sealed``): delivered to the container as a file on a tmpfs
            (``WorkspaceSpec.secret``; the image's entrypoint reads
            ``$MOORAGE_SECRET_FILE``), given to :meth:`WorkspaceKind.wait_ready`
            and, for kinds with an account, shown to the owner. None when the
            kind needs none.
        account: the account name inside the workspace the secret belongs to,
            stored on the session (``session.account``) for native clients.
    """

    env: dict[str, str] = field(default_factory=dict)
    secret: str | None = None
    account: str | None = None


@dataclass(frozen=True)
class StartedWorkspace:
    """A container just started for a session, as :meth:`WorkspaceKind.wait_ready`
    sees it.

    Attributes:
        driver: the driver of the container's environment.
        container: the container; ``ports`` maps container port → host port.
        template: the session's template.
        session_id: the session's id.
        publish_address: the host address the container's ports are published on.
        secret: the secret of :class:`KindEnvironment`, in clear, or None.
    """

    driver: ContainerDriver
    container: WorkspaceContainer
    template: Template
    session_id: str
    publish_address: str
    secret: str | None = None

    async def address(self, container_port: int) -> tuple[str, int]:
        """``(host, port)`` where this process connects to ``container_port`` (the
        published port, or a local end carried to another host's one:
        :meth:`~moorage.drivers.base.ContainerDriver.reach`).

        Raises:
            KeyError: the container does not publish ``container_port``.
            RuntimeUnavailable: the engine's host cannot be reached.
        """
        return await self.driver.reach(self.container.ports[container_port], self.publish_address)


@dataclass(frozen=True)
class KindPaths:
    """Where a browser reaches a session besides its terminal, as paths under the
    server's root. ``app``: the web app (http); ``desktop``: the websocket of the
    VNC desktop."""

    app: str | None = None
    desktop: str | None = None


class WorkspaceKind(ABC):
    """One kind of workspace. Instances hold no state and are shared.

    Attributes:
        name: the ``Template.kind`` value this kind serves.
        cap_add: Linux capabilities its container gets back (all are dropped first).
        native_port: the container port a native client (ssh, RDP client) reaches,
            or None when the kind has none.
    """

    name: ClassVar[str]
    cap_add: ClassVar[tuple[str, ...]] = ()
    native_port: ClassVar[int | None] = None

    def ports(self, template: Template) -> tuple[int, ...]:
        """The container TCP ports to publish on the publish address. Default: none."""
        return ()

    def environment(self, template: Template, session_id: str, password: str) -> KindEnvironment:
        """The container's environment and the secret the session keeps.

        Called once per launch, after the session row exists (so ``session_id`` is
        final) and before the container is created. ``password`` is freshly
        generated for this session; a kind that needs no secret ignores it.
        Default: nothing.
        """
        return KindEnvironment()

    @abstractmethod
    async def wait_ready(self, started: StartedWorkspace, timeout_seconds: float) -> None:
        """Return once the workspace is usable by its user (not merely running).

        Called right after the container is started; polls, never blocks the
        event loop. On any error the launch removes the container and fails the
        session.

        Raises:
            RuntimeUnavailable: not usable within ``timeout_seconds`` (the message
                says what was last seen), or the container stopped.
        """

    async def hand_over(self, started: StartedWorkspace, password: str) -> KindEnvironment:
        """Make a claimed warm workspace its person's: called once when a launch claims
        it, before its session is ready. ``started.secret`` is the secret it was
        started with (known to Moorage only); ``password`` is freshly generated.

        Returns:
            The secret (and account) the session keeps (``env`` is ignored). The
            default keeps the secret it was started with: right for kinds whose
            secret nobody sees (the terminal has none; the web app's token is sent
            by Moorage's proxy only). Kinds whose secret the person sees or types
            (an account password, a VNC password) replace it here.

        Raises:
            RuntimeUnavailable: the workspace refused the change (the launch removes
                it and fails the session).
        """
        return KindEnvironment(secret=started.secret)

    @property
    def hands_over_nothing(self) -> bool:
        """True when :meth:`hand_over` is the default one (the warm secret is kept and
        nothing is done in the container): a claim then makes the session ready in
        the claim's own transaction (:mod:`moorage.services.warm_launch`)."""
        return type(self).hand_over is WorkspaceKind.hand_over

    def paths(self, session_id: str) -> KindPaths:
        """Browser paths of a session of this kind. Default: none."""
        return KindPaths()

    def client_command(self, host: str, port: int, username: str) -> str | None:
        """The shell command a user types to connect with a native client to
        ``host:port`` (the published ``native_port``) as ``username``; None when
        the kind has no native client."""
        return None


class AccountKind(WorkspaceKind):
    """A kind reached with a native client on ``native_port`` as the template's
    shell user, whose image creates that account from ``<env_prefix>_USER`` and
    the password in ``$MOORAGE_SECRET_FILE``; the generated password is the
    session's secret."""

    native_port: ClassVar[int]
    env_prefix: ClassVar[str]
    """``"SSH"`` gives ``SSH_USER``."""

    def ports(self, template: Template) -> tuple[int, ...]:
        """The native client's port."""
        return (self.native_port,)

    def environment(self, template: Template, session_id: str, password: str) -> KindEnvironment:
        """The template's shell user (``<env_prefix>_USER``) and ``password`` (the
        secret, delivered as a file); both kept on the session."""
        return KindEnvironment(
            env={f"{self.env_prefix}_USER": template.shell_user},
            secret=password,
            account=template.shell_user,
        )

    async def hand_over(self, started: StartedWorkspace, password: str) -> KindEnvironment:
        """The account gets ``password`` (``chpasswd`` as root, the line on standard
        input): the password it was started with, which nobody was told, stops
        working before the person learns theirs."""
        user = started.template.shell_user
        line = f"{user}:{password}\n".encode()
        await started.driver.exec_with_input(
            started.container.id,
            ["sh", "-c", f"head -c {len(line)} | chpasswd"],
            user="root",
            data=line,
        )
        return KindEnvironment(secret=password, account=user)
