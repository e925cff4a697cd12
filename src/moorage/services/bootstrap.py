"""First-start set-up: the default org, the `admin` user, the `local` environment
and, while there is no template at all, the catalog (:data:`CATALOG`: one enabled
template per image under ``images/``). Every step is idempotent; templates an
admin changed, disabled or removed later stay so."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.config import Settings
from moorage.db.engine import write_session
from moorage.drivers.base import ContainerDriver
from moorage.errors import MoorageError
from moorage.models.environment import LOCAL_ENVIRONMENT, Environment
from moorage.models.org import DEFAULT_ORG, Org
from moorage.models.template import Template, TemplateKind
from moorage.models.user import Role, User
from moorage.security.passwords import generate_password
from moorage.services.users import create_user

__all__ = ["CATALOG", "DEFAULT_TEMPLATE", "bootstrap"]

log = logging.getLogger(__name__)

DEFAULT_TEMPLATE = "debian-shell"
PASSWORD_FILE = "initial-admin-password"

CATALOG: tuple[dict[str, object], ...] = (
    {
        "name": DEFAULT_TEMPLATE,
        "display_name": "Debian shell",
        "description": "A bash shell on Debian 12 with python3, curl, git and an editor.",
        "image": "moorage/terminal:latest",
        "kind": TemplateKind.TERMINAL.value,
        "memory_limit_mb": 512,
        "max_sessions_per_user": 3,
    },
    {
        "name": "linux-desktop",
        "display_name": "Linux desktop",
        "description": "An Openbox desktop with a terminal, in the browser (VNC).",
        "image": "moorage/desktop:latest",
        "kind": TemplateKind.VNC.value,
        "memory_limit_mb": 1024,
        "max_sessions_per_user": 2,
    },
    {
        "name": "rdp-desktop",
        "display_name": "RDP desktop",
        "description": "An Openbox desktop for any RDP client, with its own account.",
        "image": "moorage/rdp:latest",
        "kind": TemplateKind.RDP.value,
        "memory_limit_mb": 1024,
        "max_sessions_per_user": 2,
    },
    {
        "name": "ssh-box",
        "display_name": "SSH box",
        "description": "A Debian machine for your own SSH client, with its own account.",
        "image": "moorage/sshd:latest",
        "kind": TemplateKind.SSH.value,
        "memory_limit_mb": 512,
        "max_sessions_per_user": 2,
    },
    {
        "name": "jupyter",
        "display_name": "Jupyter notebook",
        "description": "A Jupyter notebook server with Python 3.",
        "image": "moorage/jupyter:latest",
        "kind": TemplateKind.HTTP.value,
        "port": 8888,
        "memory_limit_mb": 1024,
        "max_sessions_per_user": 2,
    },
)
"""The templates of a first start, one per image under ``images/`` (``make run``
builds them all; a missing one shows "image not built" in the catalog). Each
also gets ``shell_user="user"``, 1 CPU, 60 minutes by default and 240 at most."""


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    os.chmod(path, 0o600)


async def bootstrap(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    local_driver: ContainerDriver | None,
    *,
    announce=print,
) -> None:
    """Create what a fresh installation needs.

    The admin password is ``MOORAGE_ADMIN_PASSWORD`` when set; otherwise it is
    generated, passed to ``announce`` once and written to
    ``<data-dir>/initial-admin-password`` (mode 0600). The `local` environment
    is created only when ``local_driver`` answers a ping.
    """
    async with write_session(sessionmaker) as db:
        org = await db.scalar(select(Org).where(Org.name == DEFAULT_ORG))
        if org is None:
            org = Org(name=DEFAULT_ORG, display_name="Default")
            db.add(org)
            await db.flush()

        if await db.scalar(select(User.id).where(User.username == "admin")) is None:
            if settings.admin_password is not None:
                password = settings.admin_password.get_secret_value()
            else:
                password = generate_password()
                path = settings.data_dir / PASSWORD_FILE
                _write_private(path, password)
                announce(
                    f"Created user admin with password: {password}\n"
                    f"(also written to {path}; change it after logging in)"
                )
            await create_user(
                db,
                org_id=org.id,
                username="admin",
                password=password,
                role=Role.ADMIN,
                display_name="Administrator",
            )

        if (
            await db.scalar(select(Environment.id).where(Environment.name == LOCAL_ENVIRONMENT))
            is None
        ):
            if local_driver is not None:
                try:
                    version = await local_driver.ping()
                except MoorageError as exc:
                    log.warning("no local environment yet: %s", exc.message)
                else:
                    db.add(
                        Environment(
                            org_id=org.id,
                            name=LOCAL_ENVIRONMENT,
                            kind="socket",
                            url=settings.docker_url,
                            status="reachable",
                            last_error=None,
                        )
                    )
                    log.info("created environment local (Docker %s)", version)

        if await db.scalar(select(Template.id).limit(1)) is not None:
            return
        for entry in CATALOG:
            db.add(
                Template(
                    org_id=org.id,
                    shell_user="user",
                    cpu_limit=1.0,
                    default_duration_minutes=60,
                    max_duration_minutes=240,
                    enabled=True,
                    **entry,
                )
            )
