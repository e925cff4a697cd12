"""Notifications about Git stacks through the org's alert channels
(:func:`moorage.services.fleet.channels.broadcast`, Apprise)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.security.crypto import Keyring
from moorage.services.fleet.channels import broadcast

__all__ = ["notify"]


async def notify(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    org_id: str,
    title: str,
    body: str,
    *,
    failure: bool,
) -> None:
    """Send ``title``/``body`` to every enabled channel of org ``org_id`` that is not
    bound to one alert rule (a deploy is one event: no cooldown). A failure is logged
    and kept as the channel's ``last_error``, never raised."""
    await broadcast(sessionmaker, keyring, org_id, title, body, "failure" if failure else "info")
