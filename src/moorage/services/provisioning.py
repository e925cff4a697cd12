"""Provisioning: run an Ansible playbook against a pool's machines (ansible-runner).

Each pool has a private data directory ``<data-dir>/provision/<pool>/``
(ansible-runner's layout): the playbook is copied into ``project/``, an
inventory with the machines' decrypted credentials (passwords in it, private
keys in ``inventory/<run>.keys/``) and a ``known_hosts`` file of their pinned
host keys are written into ``inventory/`` for the run only (mode 0600, deleted
when it ends: success, failure or cancel), and
ansible-runner keeps the last :data:`KEEP_ARTIFACTS` runs under ``artifacts/``
(``rotate_artifacts``). The run's output is copied into its
:class:`~moorage.models.ProvisionRun` row as it grows.

Password logins need ``sshpass`` on the server (Ansible's ssh connection);
``scripts/setup.sh`` installs it. Ansible checks each machine's host key against
the one Moorage pinned (``host_key``); a machine with none pinned yet (never
checked) fails its part of the run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.errors import InvalidInput, NotFound
from moorage.models.machine import Machine, MachineStatus
from moorage.models.provision import ProvisionRun
from moorage.models.user import Role, User
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.services.audit import audit
from moorage.services.machines import address_of, find_pool

__all__ = ["KEEP_ARTIFACTS", "Provisioner", "playbook_choices"]

log = logging.getLogger(__name__)

KEEP_ARTIFACTS = 10
MAX_OUTPUT_CHARS = 200_000
BIN_DIR = Path(sys.executable).parent
SHIPPED_PLAYBOOKS = Path(__file__).resolve().parents[3] / "deploy" / "playbooks"


def playbook_choices(data_dir: Path) -> dict[str, Path]:
    """Playbooks the API may run, by file name: ``<data-dir>/playbooks/*.yml`` first,
    then the samples shipped in ``deploy/playbooks/``."""
    found: dict[str, Path] = {}
    for folder in (data_dir / "playbooks", SHIPPED_PLAYBOOKS):
        if folder.is_dir():
            for path in sorted(folder.glob("*.y*ml")):
                found.setdefault(path.name, path)
    return found


class Provisioner:
    """Starts and tracks playbook runs.

    Args:
        sessionmaker: opens database sessions.
        keyring: opens the machines' credentials for the inventory.
        data_dir: the data directory (``provision/`` lives there).
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        data_dir: Path,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keyring = keyring
        self._data_dir = data_dir
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    async def start_playbook(
        self, operator: User, pool_name: str, name: str, extra_vars: dict[str, str] | None = None
    ) -> ProvisionRun:
        """Queue a run of the playbook file ``name`` (one of :func:`playbook_choices`)
        for an operator, as the API and the pages do; audited ``pool.provision``.

        Raises:
            Forbidden: below operator. InvalidInput: no playbook of that name
            (the error lists the known ones), or the pool has no machine.
            NotFound: unknown pool.
        """
        require_role(operator, Role.OPERATOR)
        choices = playbook_choices(self._data_dir)
        if name not in choices:
            raise InvalidInput(
                f"no playbook named {name!r}; known: {', '.join(sorted(choices)) or 'none'}",
                field="playbook",
            )
        run = await self.start(operator, pool_name, choices[name], extra_vars)
        await audit(
            self._sessionmaker, None, operator, "pool.provision", "pool", pool_name, detail=name
        )
        return run

    async def start(
        self, user: User, pool_name: str, playbook: Path, extra_vars: dict[str, str] | None = None
    ) -> ProvisionRun:
        """Queue a run of ``playbook`` on every machine of the pool not in maintenance
        and start it in the background. Any file may be given and no role is checked:
        this is for the host's command line (``moorage machines provision``); the API
        and the pages use :meth:`start_playbook`.

        Raises:
            NotFound: unknown pool. InvalidInput: the playbook file does not exist,
            or the pool has no machine.
        """
        if not await asyncio.to_thread(playbook.is_file):
            raise InvalidInput(f"no playbook at {playbook}", field="playbook")
        async with write_session(self._sessionmaker) as db:
            pool = await find_pool(db, user.org_id, pool_name)
            count = len(list(await db.scalars(self._machines(pool.id))))
            if count == 0:
                raise InvalidInput(f"pool {pool_name} has no machine to provision", field="pool")
            run = ProvisionRun(
                id=new_id(),
                org_id=user.org_id,
                pool_id=pool.id,
                playbook=playbook.name,
                status="queued",
                started_by=user.username,
                created_at=self._clock(),
            )
            db.add(run)
        task = asyncio.create_task(
            self._execute(run.id, pool.name, pool.id, playbook, extra_vars or {})
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def wait(self, run_id: str, timeout_seconds: float = 600) -> ProvisionRun:
        """Wait for a run to finish (for the CLI); returns the final row."""
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        while True:
            run = await self.get_by_id(run_id)
            if run.status not in ("queued", "running"):
                return run
            if asyncio.get_running_loop().time() > deadline:
                return run
            await asyncio.sleep(0.5)

    async def run_of(self, operator: User, run_id: str) -> ProvisionRun:
        """The run ``run_id`` of the operator's org, read fresh.

        Raises:
            Forbidden: below operator. NotFound: unknown id, or another org's run.
        """
        require_role(operator, Role.OPERATOR)
        run = await self.get_by_id(run_id)
        if run.org_id != operator.org_id:
            raise NotFound(f"no provisioning run {run_id}", code="run_not_found")
        return run

    async def get_by_id(self, run_id: str) -> ProvisionRun:
        """The run ``run_id``, read fresh. Raises NotFound for an unknown id."""
        async with self._sessionmaker() as db:
            run = await db.get(ProvisionRun, run_id, populate_existing=True)
        if run is None:
            raise NotFound(f"no provisioning run {run_id}", code="run_not_found")
        return run

    @staticmethod
    def _machines(pool_id: str):
        return select(Machine).where(
            Machine.pool_id == pool_id, Machine.status != MachineStatus.MAINTENANCE.value
        )

    async def _execute(
        self, run_id: str, pool_name: str, pool_id: str, playbook: Path, extra_vars: dict[str, str]
    ) -> None:
        root = self._data_dir / "provision" / pool_name
        inventory = root / "inventory" / f"{run_id}.json"
        known_hosts = root / "inventory" / f"{run_id}.known_hosts"
        keys = root / "inventory" / f"{run_id}.keys"
        try:
            async with self._sessionmaker() as db:
                machines = list(await db.scalars(self._machines(pool_id)))
            await asyncio.to_thread(
                self._prepare, root, RunFiles(inventory, known_hosts, keys), playbook, machines
            )
            await self._update(run_id, status="running")
            import ansible_runner  # heavy: imported only when a run starts

            # A cancel_callback keeps ansible-runner from installing its own SIGTERM and
            # SIGINT handlers (it does when given none, on the calling thread, here the
            # event loop's main thread): those only set a flag, and the server then
            # ignored SIGTERM and Ctrl+C for good. The event also stops a run whose task
            # is cancelled (shutdown).
            cancelled = threading.Event()
            thread, runner = ansible_runner.run_async(
                cancel_callback=cancelled.is_set,
                private_data_dir=str(root),
                playbook=playbook.name,
                inventory=str(inventory),
                ident=run_id,
                rotate_artifacts=KEEP_ARTIFACTS,
                extravars=extra_vars,
                envvars={
                    "ANSIBLE_HOST_KEY_CHECKING": "True",
                    "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_RETRY_FILES_ENABLED": "False",
                    "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
                },
                # ansible-playbook is installed next to this interpreter, maybe off PATH;
                # with `binary`, ansible-runner passes the playbook only through `cmdline`.
                binary=str(BIN_DIR / "ansible-playbook"),
                cmdline=shlex.quote(str(root / "project" / playbook.name)),
                quiet=True,
                suppress_env_files=True,
            )
            stdout = root / "artifacts" / run_id / "stdout"
            try:
                while thread.is_alive():
                    await asyncio.sleep(1)
                    await self._update(run_id, output=await asyncio.to_thread(_read, stdout))
            except asyncio.CancelledError:
                cancelled.set()  # ansible-runner kills the playbook at its next check
                raise
            await asyncio.to_thread(thread.join)
            status = "successful" if runner.status == "successful" else "failed"
            await self._update(
                run_id,
                status=status,
                return_code=runner.rc,
                output=await asyncio.to_thread(_read, stdout),
                finished_at=self._clock(),
            )
            log.info("provisioning %s of pool %s: %s", playbook.name, pool_name, status)
        except Exception as exc:
            log.exception("provisioning run %s errored", run_id)
            await self._update(
                run_id,
                status="errored",
                finished_at=self._clock(),
                output=f"Moorage could not run the playbook: {exc!r}",
            )
        finally:  # also on cancel: no decrypted credential outlives its run
            inventory.unlink(missing_ok=True)
            known_hosts.unlink(missing_ok=True)
            shutil.rmtree(keys, ignore_errors=True)

    def _prepare(
        self, root: Path, files: RunFiles, playbook: Path, machines: list[Machine]
    ) -> None:
        (root / "project").mkdir(parents=True, exist_ok=True)
        files.inventory.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        shutil.rmtree(root / "inventory" / "keys", ignore_errors=True)  # left by older versions
        shutil.copyfile(playbook, root / "project" / playbook.name)
        hosts: dict[str, dict[str, Any]] = {}
        keys = files.keys
        pinned: list[str] = []
        ssh_args = shlex.join(
            ["-o", f"UserKnownHostsFile={files.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        )
        for machine in machines:
            address = address_of(machine, self._keyring)
            host: dict[str, Any] = {
                "ansible_host": address.host,
                "ansible_port": address.port,
                "ansible_user": address.user,
                "ansible_python_interpreter": "auto_silent",
                "ansible_ssh_common_args": ssh_args,
            }
            if machine.host_key:
                pinned.append(known_hosts_line(address.host, address.port, machine.host_key))
            if address.password:
                host["ansible_password"] = address.password
                host["ansible_become_password"] = address.password
            if address.private_key:
                keys.mkdir(mode=0o700, exist_ok=True)
                key_file = keys / f"{machine.name}.key"
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(address.private_key.rstrip() + "\n")
                host["ansible_ssh_private_key_file"] = str(key_file)
            hosts[machine.name] = host
        fd = os.open(files.known_hosts, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("".join(pinned))
        fd = os.open(files.inventory, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"all": {"hosts": hosts}}, handle)

    async def _update(self, run_id: str, **fields: Any) -> None:
        async with write_session(self._sessionmaker) as db:
            run = await db.get(ProvisionRun, run_id, with_for_update=True)
            if run is not None:
                for name, value in fields.items():
                    setattr(run, name, value)


@dataclass(frozen=True)
class RunFiles:
    """The files one run writes for Ansible, all deleted when it ends: the inventory
    (JSON, with passwords), ``known_hosts`` (the pinned host keys) and the folder of
    decrypted private keys."""

    inventory: Path
    known_hosts: Path
    keys: Path


def known_hosts_line(host: str, port: int, host_key: str) -> str:
    """One OpenSSH ``known_hosts`` line pinning ``host_key`` (``"ssh-ed25519 AAAA…"``)
    for ``host:port``: ``host key`` on port 22, ``[host]:port key`` otherwise."""
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {host_key.strip()}\n"


def _read(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return text[-MAX_OUTPUT_CHARS:]
