"""The asyncssh implementation of :class:`~moorage.drivers.machines.MachineConnector`."""

from __future__ import annotations

import asyncio
import shlex
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from moorage.drivers.machines import MachineAddress, MachineConnector, ProbeResult
from moorage.errors import Conflict, RuntimeUnavailable

if TYPE_CHECKING:
    import asyncssh

# asyncssh (and its cryptography) is imported where it is used: a server with no
# SSH environment or machine pool never loads it.

__all__ = ["SSHConnector"]

# Exit codes of shadow-utils' useradd/userdel (useradd(8), userdel(8)).
USERADD_EXISTS = 9
USERDEL_NO_USER = 6


class SSHConnector(MachineConnector):
    """Account operations over SSH.

    Args:
        connect_timeout_seconds: TCP connect plus SSH handshake and login.
        command_timeout_seconds: one remote command.
        connections_per_host: concurrent connections to one ``host:port`` at most.
        keepalive_seconds: SSH keepalive interval (``keepalive_count_max`` 3).
    """

    def __init__(
        self,
        *,
        connect_timeout_seconds: float = 10.0,
        command_timeout_seconds: float = 60.0,
        connections_per_host: int = 3,
        keepalive_seconds: float = 15.0,
    ) -> None:
        self._connect_timeout = connect_timeout_seconds
        self._command_timeout = command_timeout_seconds
        self._keepalive = keepalive_seconds
        self._slots: defaultdict[tuple[str, int], asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(connections_per_host)
        )

    @asynccontextmanager
    async def _connect(
        self, machine: MachineAddress
    ) -> AsyncIterator[asyncssh.SSHClientConnection]:
        import asyncssh

        options: dict[str, object] = {
            "username": machine.user,
            "connect_timeout": self._connect_timeout,
            "keepalive_interval": self._keepalive,
            "keepalive_count_max": 3,
            "known_hosts": None,
            "agent_path": None,
        }
        if machine.host_key:
            options["known_hosts"] = ([asyncssh.import_public_key(machine.host_key)], [], [])
        if machine.private_key:
            options["client_keys"] = [asyncssh.import_private_key(machine.private_key)]
            options["password"] = machine.password
        else:
            options["client_keys"] = None
            options["password"] = machine.password
        where = f"{machine.name} ({machine.host}:{machine.port})"
        async with self._slots[(machine.host, machine.port)]:
            try:
                connection = await asyncssh.connect(machine.host, machine.port, **options)
            except asyncssh.HostKeyNotVerifiable as exc:
                raise RuntimeUnavailable(
                    f"{where} presented a host key other than the pinned one; if the machine "
                    "was reinstalled, reset its host key",
                    code="host_key_mismatch",
                ) from exc
            except asyncssh.PermissionDenied as exc:
                raise RuntimeUnavailable(
                    f"{where} refused the login of {machine.user}", code="machine_login_refused"
                ) from exc
            except (OSError, asyncssh.Error, TimeoutError) as exc:
                raise RuntimeUnavailable(
                    f"{where} is unreachable ({type(exc).__name__}: {exc})",
                    code="machine_unreachable",
                ) from exc
            try:
                yield connection
            finally:
                connection.close()

    async def _run(
        self,
        connection: asyncssh.SSHClientConnection,
        machine: MachineAddress,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        ok: Sequence[int] = (0,),
    ) -> asyncssh.SSHCompletedProcess:
        # Commands run as root: prefix sudo for a non-root login user.
        import asyncssh

        full = list(argv) if machine.user == "root" else ["sudo", "-n", "--", *argv]
        try:
            result = await connection.run(
                shlex.join(full), input=stdin, check=False, timeout=self._command_timeout
            )
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            raise RuntimeUnavailable(
                f"{machine.name}: `{argv[0]}` did not complete ({type(exc).__name__}: {exc})",
                code="machine_unreachable",
            ) from exc
        if result.exit_status not in ok:
            stderr = str(result.stderr or "").strip()[:300]
            raise RuntimeUnavailable(
                f"{machine.name}: `{argv[0]}` exited with {result.exit_status}: {stderr}",
                code="machine_command_failed",
            )
        return result

    async def probe(self, machine: MachineAddress) -> ProbeResult:
        async with self._connect(machine) as connection:
            result = await self._run(connection, machine, ["uname", "-sr"])
            key = connection.get_server_host_key()
            host_key = key.export_public_key("openssh").decode().strip() if key else ""
        return ProbeResult(host_key=host_key, system=str(result.stdout).strip())

    async def create_account(
        self, machine: MachineAddress, username: str, password: str, *, sudo: bool
    ) -> None:
        async with self._connect(machine) as connection:
            created = await self._run(
                connection,
                machine,
                [
                    "useradd",
                    "--create-home",
                    "--shell",
                    "/bin/bash",
                    "--comment",
                    "moorage reservation",
                    "--",
                    username,
                ],
                ok=(0, USERADD_EXISTS),
            )
            if created.exit_status == USERADD_EXISTS:
                raise Conflict(
                    f"{machine.name}: an account named {username} already exists",
                    code="account_exists",
                )
            await self._run(connection, machine, ["chpasswd"], stdin=f"{username}:{password}\n")
            if sudo:
                rule = f"/etc/sudoers.d/moorage-{username}"
                await self._run(
                    connection, machine, ["tee", rule], stdin=f"{username} ALL=(ALL) NOPASSWD:ALL\n"
                )
                await self._run(connection, machine, ["chmod", "0440", rule])

    async def delete_account(self, machine: MachineAddress, username: str) -> None:
        async with self._connect(machine) as connection:
            # pkill: 1 = no process matched; 2 = no such user (already deleted).
            await self._run(connection, machine, ["pkill", "-KILL", "-u", username], ok=(0, 1, 2))
            await self._run(connection, machine, ["rm", "-f", f"/etc/sudoers.d/moorage-{username}"])
            for attempt in range(3):
                result = await self._run(
                    connection,
                    machine,
                    ["userdel", "--remove", "--force", username],
                    ok=(0, USERDEL_NO_USER, 8, 12),
                )
                if result.exit_status in (0, USERDEL_NO_USER, 12):
                    break
                await asyncio.sleep(0.2 * (attempt + 1))  # 8: still logged in; processes dying
            await self._run(connection, machine, ["rm", "-rf", "--", f"/home/{username}"])
            check = await self._run(connection, machine, ["id", "-u", username], ok=(0, 1))
            if check.exit_status == 0:
                raise RuntimeUnavailable(
                    f"{machine.name}: the account {username} is still there after userdel",
                    code="machine_command_failed",
                )

    async def account_exists(self, machine: MachineAddress, username: str) -> bool:
        async with self._connect(machine) as connection:
            result = await self._run(connection, machine, ["id", "-u", username], ok=(0, 1))
        return result.exit_status == 0
