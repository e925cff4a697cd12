"""An in-memory :class:`MachineConnector` for unit tests."""

from __future__ import annotations

from moorage.drivers.machines import MachineAddress, MachineConnector, ProbeResult
from moorage.errors import Conflict, RuntimeUnavailable

__all__ = ["FakeConnector"]


class FakeConnector(MachineConnector):
    """Accounts live in :attr:`accounts` (machine name → usernames). Put a machine
    name in :attr:`down` to make it unreachable, in :attr:`fail_create` to make
    account creation fail there."""

    def __init__(self) -> None:
        self.accounts: dict[str, set[str]] = {}
        self.down: set[str] = set()
        self.fail_create: set[str] = set()
        self.calls: list[tuple[str, str, str]] = []

    def _check(self, machine: MachineAddress) -> set[str]:
        if machine.name in self.down:
            raise RuntimeUnavailable(f"{machine.name} is unreachable", code="machine_unreachable")
        return self.accounts.setdefault(machine.name, set())

    async def probe(self, machine: MachineAddress) -> ProbeResult:
        self._check(machine)
        return ProbeResult(host_key=f"ssh-ed25519 FAKE{machine.name}", system="Linux fake")

    async def create_account(
        self, machine: MachineAddress, username: str, password: str, *, sudo: bool
    ) -> None:
        accounts = self._check(machine)
        self.calls.append(("create", machine.name, username))
        if username in accounts:
            raise Conflict(f"{machine.name}: {username} exists", code="account_exists")
        accounts.add(username)
        if machine.name in self.fail_create:
            raise RuntimeUnavailable(
                f"{machine.name}: chpasswd failed", code="machine_command_failed"
            )

    async def delete_account(self, machine: MachineAddress, username: str) -> None:
        accounts = self._check(machine)
        self.calls.append(("delete", machine.name, username))
        accounts.discard(username)

    async def account_exists(self, machine: MachineAddress, username: str) -> bool:
        return username in self._check(machine)
