"""First-start set-up: the default org, the `admin` user, the `local` environment
and the `debian-shell` template. Every step is idempotent."""

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

__all__ = ["DEFAULT_TEMPLATE", "bootstrap"]

log = logging.getLogger(__name__)

DEFAULT_TEMPLATE = "debian-shell"
PASSWORD_FILE = "initial-admin-password"


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

        if await db.scalar(select(Template.id).where(Template.name == DEFAULT_TEMPLATE)) is None:
            db.add(
                Template(
                    org_id=org.id,
                    name=DEFAULT_TEMPLATE,
                    display_name="Debian shell",
                    description="A bash shell on Debian 12 with python3, curl and an editor.",
                    image="moorage/terminal:latest",
                    kind=TemplateKind.TERMINAL.value,
                    shell_user="user",
                    cpu_limit=1.0,
                    memory_limit_mb=512,
                    default_duration_minutes=60,
                    max_duration_minutes=240,
                    max_sessions_per_user=3,
                    enabled=True,
                )
            )
