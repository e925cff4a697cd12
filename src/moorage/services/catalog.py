"""The catalog a user launches from: each enabled template with what its card shows.

A card shows the template's kind, limits, how many of the user's sessions of it
are live, and whether its image is on the environment sessions start on; a
template whose image is missing says "image not built" with the command that
builds it, instead of failing at launch.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.drivers.pool import DriverPool
from moorage.errors import MoorageError
from moorage.images import REPOSITORY
from moorage.models.environment import Environment
from moorage.models.lease import LIVE_STATES
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import User
from moorage.services.templates import visible_templates

__all__ = ["CatalogEntry", "build_command", "catalog"]

log = logging.getLogger(__name__)

IMAGE_CHECK_SECONDS = 3.0
"""How long the catalog waits for Docker to say whether an image is present."""

_OWN_IMAGE = re.compile(r"^moorage/([a-z0-9][a-z0-9_-]*):latest$")


@dataclass(frozen=True)
class CatalogEntry:
    """One card of the catalog.

    Attributes:
        template: the template (enabled).
        live_sessions: how many of the user's sessions of it are live (pending to
            releasing, stopped included).
        image_built: whether its image is on the environment: None when Docker did
            not answer (the card says nothing then; a launch explains).
        build_command: the command that builds (or fetches) a missing image.
    """

    template: Template
    live_sessions: int
    image_built: bool | None
    build_command: str


def build_command(image: str) -> str:
    """The command that makes ``image`` present: ``moorage images build <name>`` for
    ``moorage/<name>:latest`` when ``images/<name>/Dockerfile`` is in this source
    tree (``make run`` builds them all), else ``docker pull <image>``."""
    match = _OWN_IMAGE.match(image)
    if match and (REPOSITORY / "images" / match.group(1) / "Dockerfile").is_file():
        return f"moorage images build {match.group(1)}"
    return f"docker pull {image}"


async def catalog(db: AsyncSession, user: User, drivers: DriverPool) -> list[CatalogEntry]:
    """The enabled templates ``user`` may launch, by display name, as catalog cards.

    Images are checked on the org's first environment (where sessions start),
    each for at most :data:`IMAGE_CHECK_SECONDS`; an unreachable Docker leaves
    ``image_built`` None instead of failing the page.
    """
    templates = [t for t in await visible_templates(db, user) if t.enabled]
    counts = dict(
        (
            await db.execute(
                select(WorkspaceSession.template_id, func.count())
                .where(
                    WorkspaceSession.user_id == user.id,
                    WorkspaceSession.state.in_(LIVE_STATES),
                )
                .group_by(WorkspaceSession.template_id)
            )
        ).all()
    )
    environment = await db.scalar(
        select(Environment)
        .where(Environment.org_id == user.org_id)
        .order_by(Environment.created_at)
        .limit(1)
    )
    present = await _images_present(drivers, environment, {t.image for t in templates})
    return [
        CatalogEntry(
            template=t,
            live_sessions=int(counts.get(t.id, 0)),
            image_built=present.get(t.image),
            build_command=build_command(t.image),
        )
        for t in templates
    ]


async def _images_present(
    drivers: DriverPool, environment: Environment | None, images: set[str]
) -> dict[str, bool | None]:
    if environment is None or not images:
        return {}
    try:
        driver = drivers.get(environment)
    except MoorageError:
        return {}

    async def check(image: str) -> bool | None:
        try:
            return await asyncio.wait_for(driver.image_present(image), IMAGE_CHECK_SECONDS)
        except (MoorageError, TimeoutError) as exc:
            log.debug("could not check image %s: %s", image, exc)
            return None

    names = sorted(images)
    return dict(zip(names, await asyncio.gather(*(check(i) for i in names)), strict=True))
