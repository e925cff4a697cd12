"""Notifications about Git stacks through the org's alert channels
(:mod:`moorage.services.fleet.channels`, Apprise)."""

from __future__ import annotations

import logging

import apprise
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.engine import write_session
from moorage.models.fleet import NotificationChannel
from moorage.security.crypto import Keyring
from moorage.services.fleet.channels import CHANNEL_CONTEXT

__all__ = ["notify"]

log = logging.getLogger(__name__)


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
    bound to one alert rule. A channel's cooldown is for alert storms and is not applied
    (a deploy is one event); a failure is logged and kept as the channel's ``last_error``,
    never raised."""
    async with write_session(sessionmaker) as db:
        channels = await db.scalars(
            select(NotificationChannel).where(
                NotificationChannel.org_id == org_id,
                NotificationChannel.enabled,
                NotificationChannel.rule_id.is_(None),
            )
        )
        for channel in channels:
            sender = apprise.Apprise()
            sender.add(keyring.open(channel.url_sealed, CHANNEL_CONTEXT))
            kind = apprise.NotifyType.FAILURE if failure else apprise.NotifyType.INFO
            try:
                sent = bool(await sender.async_notify(body=body, title=title, notify_type=kind))
                detail = None if sent else "the service refused or did not answer"
            except Exception as exc:  # Apprise plugins raise their own errors
                detail = f"{type(exc).__name__}: {exc}"
            if detail:
                log.warning("notification to %s failed: %s", channel.name, detail)
                channel.last_error = detail
