"""The machine connector contract: accounts on SSH-reachable pool machines.

Usernames given to a connector are already validated by
:func:`moorage.services.accounts.check_username`; connectors still never build
a shell command from them: every command is an argument vector quoted with
``shlex.join``, and passwords travel on standard input, never in argv.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

__all__ = ["MachineAddress", "MachineConnector", "ProbeResult"]


@dataclass(frozen=True)
class MachineAddress:
    """How to reach and log in to a machine.

    Attributes:
        name: the machine's name in Moorage, for messages.
        host, port: SSH endpoint.
        user: login user; ``root``, or a user with password-less ``sudo``.
        password, private_key: one of them (OpenSSH/PEM private key text).
        host_key: the server's public host key in OpenSSH format, pinned at the
            first probe (trust on first use); ``None`` accepts any key.
    """

    name: str
    host: str
    port: int
    user: str
    password: str | None = None
    private_key: str | None = None
    host_key: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    """``host_key``: the server's public key (OpenSSH format); ``system``: ``uname -sr``."""

    host_key: str
    system: str


class MachineConnector(ABC):
    """Runs account operations on pool machines. Implementations bound the number
    of concurrent connections per host and put a timeout on every remote call."""

    @abstractmethod
    async def probe(self, machine: MachineAddress) -> ProbeResult:
        """Log in and run a trivial command.

        Raises:
            RuntimeUnavailable: unreachable, refused credentials, timeout, or
                (code ``host_key_mismatch``) a host key other than the pinned one.
        """

    @abstractmethod
    async def create_account(
        self, machine: MachineAddress, username: str, password: str, *, sudo: bool
    ) -> None:
        """Create ``username`` with a home directory, ``/bin/bash`` and ``password``;
        with ``sudo``, password-less sudo. Not idempotent.

        Raises:
            Conflict: the account already exists on the machine (code ``account_exists``).
            RuntimeUnavailable: unreachable, or a command failed (what was made so
                far is left for :meth:`delete_account`).
        """

    @abstractmethod
    async def delete_account(self, machine: MachineAddress, username: str) -> None:
        """End the account's processes, delete it with its home and sudo rule.
        Idempotent: an account that does not exist is success.

        Raises:
            RuntimeUnavailable: unreachable, or the account is still there afterwards.
        """

    @abstractmethod
    async def account_exists(self, machine: MachineAddress, username: str) -> bool:
        """True when ``username`` exists on the machine.

        Raises:
            RuntimeUnavailable: unreachable.
        """
