"""Environments (operators): add, list, show, change and remove Docker endpoints, with
their sealed secrets (TLS material, SSH key) and pinned SSH host key. Changes are
audited as ``environment.<verb>``; each add or change tests the connection at once.

An environment's ``kind`` is ``swarm`` when the request says so (its URL is then a
swarm manager's), else the transport of its URL (:func:`kind_of`); see
:mod:`moorage.models.environment`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.engine import write_session
from moorage.drivers.docker.agent_tunnel import parse_agent_url
from moorage.drivers.docker.ssh_tunnel import fetch_host_key, parse_ssh_url
from moorage.drivers.docker.tls import CA_CONTEXT, CERT_CONTEXT, KEY_CONTEXT, SSH_KEY_CONTEXT
from moorage.drivers.pool import DriverPool
from moorage.errors import Conflict, InvalidInput
from moorage.models.environment import SWARM, Environment
from moorage.models.lease import LIVE_STATES
from moorage.models.session import WorkspaceSession
from moorage.models.user import Role, User
from moorage.schemas.environment import EnvironmentCreate, EnvironmentUpdate
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.services.audit import audit
from moorage.services.docker._operation import Caller, DockerService, find_environment
from moorage.services.docker.environment_status import EnvironmentStatus
from moorage.services.placement import Room, rooms_of

__all__ = ["EnvironmentService", "kind_of", "swarm_or_transport"]

KINDS = {"unix:///": "socket", "tcp://": "tcp", "ssh://": "ssh", "agent://": "agent"}


def kind_of(url: str) -> str:
    """``socket``, ``tcp``, ``ssh`` or ``agent`` (a node's tunnel,
    :mod:`moorage.drivers.docker.agent_tunnel`) from the URL's scheme.

    Raises:
        InvalidInput: another scheme, or an SSH or agent URL without user, host or
            node (field ``url``).
    """
    for prefix, kind in KINDS.items():
        if url.startswith(prefix):
            if kind == "ssh":
                parse_ssh_url(url)
            if kind == "agent":
                parse_agent_url(url)
            return kind
    raise InvalidInput(
        "url must be unix:///path/to/docker.sock, tcp://host:port, ssh://user@host[:port] "
        "or agent://<node>",
        field="url",
    )


def swarm_or_transport(url: str, kind: str | None, current: str | None = None) -> str:
    """The ``kind`` to store: ``swarm`` when ``kind`` (the request's ``engine`` or
    ``swarm``; None: keep ``current``) asks for it, else the transport of ``url``.

    Raises:
        InvalidInput: as :func:`kind_of` (field ``url``).
    """
    transport = kind_of(url)
    swarm = kind == SWARM if kind is not None else current == SWARM
    return SWARM if swarm else transport


class EnvironmentService(DockerService):
    """Environments of the caller's org. Every method raises Forbidden below operator.

    Args:
        keyring: seals TLS material and SSH keys (contexts in :mod:`.tls`).
        status: tests an environment's connection and stores the result.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        keyring: Keyring,
        status: EnvironmentStatus,
    ) -> None:
        super().__init__(sessionmaker, drivers)
        self._keyring = keyring
        self._status = status

    async def list_environments(self, user: User) -> list[Environment]:
        """The org's environments, oldest first."""
        self.authorize(Caller(user))
        async with self._sessionmaker() as db:
            rows = await db.scalars(
                select(Environment)
                .where(Environment.org_id == user.org_id)
                .order_by(Environment.created_at)
            )
            return list(rows)

    async def get(self, user: User, env: str) -> Environment:
        """The environment named (or with id) ``env``. Raises NotFound."""
        return (await self.target(Caller(user), env)).environment

    async def add(self, caller: Caller, body: EnvironmentCreate) -> Environment:
        """Add an environment, then test it: the row returned carries its status
        (``unreachable`` with the error when the test fails; it is kept and retried).

        Raises:
            Conflict: the name is taken (code ``environment_exists``).
            InvalidInput: bad URL, TLS pair or SSH key. RuntimeUnavailable: the SSH host
                did not present a host key to pin.
        """
        self.authorize(caller)
        async with write_session(self._sessionmaker) as db:
            if await db.scalar(select(Environment.id).where(Environment.name == body.name)):
                raise Conflict(
                    f"an environment named {body.name!r} exists", code="environment_exists"
                )
            environment = Environment(
                org_id=caller.user.org_id,
                name=body.name,
                url=body.url,
                kind=swarm_or_transport(body.url, body.kind),
            )
            self._seal_tls(environment, body)
            await self._set_ssh(environment, body, pin=True)
            db.add(environment)
        checked = await self._status.check(environment)
        await self._audit(caller, "environment.add", environment.name)
        return checked

    async def update(self, caller: Caller, env: str, body: EnvironmentUpdate) -> Environment:
        """Change the address, TLS material or SSH key, then test again. A new SSH
        address, or ``reset_host_key``, pins the host key presented now.

        ``allow_host_access`` (admins only) lets containers and stacks created here
        reach the host; it binds every role, admins included.

        ``kind`` (``swarm`` or ``engine``) changes how sessions run there; only while
        none is live (their containers or services would be orphaned).

        Raises:
            NotFound: no such environment. InvalidInput, RuntimeUnavailable: as :meth:`add`.
            Forbidden: ``allow_host_access`` set by someone below admin.
            Conflict: ``kind`` changed while sessions live there (``environment_in_use``).
        """
        self.authorize(caller)
        if body.allow_host_access is not None:
            require_role(caller.user, Role.ADMIN)
        async with write_session(self._sessionmaker) as db:
            environment = await find_environment(db, caller.user.org_id, env)
            if body.allow_host_access is not None:
                environment.allow_host_access = body.allow_host_access
            placement_changed = self._set_placement(environment, body)
            moved = body.url is not None and body.url != environment.url
            kind = swarm_or_transport(body.url or environment.url, body.kind, environment.kind)
            if (kind == SWARM) != (environment.kind == SWARM):
                await self._refuse_if_live(db, environment)
            environment.kind = kind
            if body.url is not None:
                environment.url = body.url
            self._seal_tls(environment, body)
            await self._set_ssh(environment, body, pin=moved or body.reset_host_key)
        await self._drivers.invalidate(environment.id)
        checked = await self._status.check(environment)
        await self._audit(caller, "environment.update", environment.name, placement_changed)
        return checked

    @staticmethod
    async def _refuse_if_live(db: AsyncSession, environment: Environment) -> None:
        live = await db.scalar(
            select(WorkspaceSession.id)
            .where(
                WorkspaceSession.environment_id == environment.id,
                WorkspaceSession.state.in_(LIVE_STATES),
            )
            .limit(1)
        )
        if live:
            raise Conflict(
                "sessions live on %(name)s; end them before changing its kind",
                params={"name": environment.name},
                code="environment_in_use",
            )

    @staticmethod
    def _set_placement(environment: Environment, body: EnvironmentUpdate) -> str | None:
        """Apply ``labels``, ``capacity`` and ``state`` of ``body``; returns what
        changed, for the audit log (None: nothing)."""
        changed = []
        if body.labels is not None:
            environment.labels = dict(body.labels)
            changed.append("labels " + ", ".join(f"{k}={v}" for k, v in body.labels.items()))
        if body.capacity is not None:
            environment.cpu_capacity = body.capacity.cpu_cores
            environment.memory_capacity_mb = body.capacity.memory_mb
            changed.append(
                f"capacity {body.capacity.cpu_cores} cores, {body.capacity.memory_mb} MB"
            )
        if body.state is not None and body.state != environment.state:
            environment.state = body.state
            changed.append(f"state {body.state}")
        return "; ".join(changed) or None

    async def rooms(self, environments: list[Environment]) -> dict[str, Room]:
        """Capacity and use of each of ``environments`` (:mod:`moorage.services.placement`),
        by id."""
        async with self._sessionmaker() as db:
            return {room.environment.id: room for room in await rooms_of(db, environments)}

    async def remove(self, caller: Caller, env: str) -> None:
        """Forget an environment (its containers are left alone) and close its driver.

        Raises:
            NotFound: no such environment.
            Conflict: sessions have run there (code ``environment_in_use``).
        """
        self.authorize(caller)
        async with write_session(self._sessionmaker) as db:
            environment = await find_environment(db, caller.user.org_id, env)
            if await db.scalar(
                select(WorkspaceSession.id)
                .where(WorkspaceSession.environment_id == environment.id)
                .limit(1)
            ):
                raise Conflict(
                    f"sessions have run on {environment.name}; it cannot be removed",
                    code="environment_in_use",
                )
            await db.delete(environment)
        await self._drivers.invalidate(environment.id)
        await self._audit(caller, "environment.remove", env)

    async def _audit(
        self, caller: Caller, action: str, name: str, detail: str | None = None
    ) -> None:
        await audit(
            self._sessionmaker,
            caller.connection,
            caller.user,
            action,
            "environment",
            name,
            detail=detail,
        )

    async def _set_ssh(
        self, environment: Environment, body: EnvironmentCreate | EnvironmentUpdate, *, pin: bool
    ) -> None:
        """Seal the SSH key and, when ``pin`` (or none is pinned), pin the host key the
        server presents now."""
        if environment.transport != "ssh":
            return
        if body.ssh_private_key is not None:
            text = body.ssh_private_key.get_secret_value()
            import asyncssh  # heavy: loaded when an SSH environment is saved

            try:
                asyncssh.import_private_key(text)
            except (asyncssh.KeyImportError, ValueError) as exc:
                raise InvalidInput(
                    f"ssh_private_key is not a private key ({exc})", field="ssh_private_key"
                ) from exc
            environment.ssh_key_sealed = self._keyring.seal(text, SSH_KEY_CONTEXT)
        if not environment.ssh_key_sealed:
            raise InvalidInput(
                "an ssh:// environment needs ssh_private_key", field="ssh_private_key"
            )
        if pin or not environment.ssh_host_key:
            environment.ssh_host_key = await fetch_host_key(parse_ssh_url(environment.url))

    def _seal_tls(
        self, environment: Environment, body: EnvironmentCreate | EnvironmentUpdate
    ) -> None:
        keyring = self._keyring
        if body.tls_ca is not None:
            environment.tls_ca_sealed = keyring.seal(body.tls_ca.get_secret_value(), CA_CONTEXT)
        if body.tls_cert is not None:
            environment.tls_cert_sealed = keyring.seal(
                body.tls_cert.get_secret_value(), CERT_CONTEXT
            )
        if body.tls_key is not None:
            environment.tls_key_sealed = keyring.seal(body.tls_key.get_secret_value(), KEY_CONTEXT)
        if bool(environment.tls_cert_sealed) != bool(environment.tls_key_sealed):
            raise InvalidInput("give tls_cert and tls_key together", field="tls_key")
