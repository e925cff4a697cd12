"""Notification channels: Apprise URLs (https://github.com/caronc/apprise/wiki:
``json://`` generic JSON webhook, ``slack://``, ``msteams://``/``workflows://``,
``mailto://`` …) stored encrypted, never shown again. Changes are audited. A channel
may be bound to one rule (only its alerts go there). The channel a setting manages
(``MOORAGE_WEBHOOK_URL``, :mod:`moorage.services.fleet.defaults`) cannot be removed
here: unset the setting."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.engine import write_session
from moorage.errors import Conflict, InvalidInput, NotFound, RuntimeUnavailable
from moorage.models.fleet import AlertRule, NotificationChannel
from moorage.models.user import Role, User
from moorage.schemas.alert import ChannelBody
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in

__all__ = [
    "CHANNEL_CONTEXT",
    "broadcast",
    "channel_public",
    "check_apprise_url",
    "create_channel",
    "list_channels",
    "remove_channel",
    "send_test",
]

log = logging.getLogger(__name__)

CHANNEL_CONTEXT = "fleet.channel_url"


def check_apprise_url(url: str) -> str:
    """``url`` if Apprise knows its scheme. Raises InvalidInput naming the field."""
    import apprise  # heavy (its plugins): loaded when a channel is saved or used

    if not apprise.Apprise().add(url):
        raise InvalidInput(
            f"not an Apprise URL Moorage can use: {url.split(':', 1)[0]}://… "
            "(for example json://host/path, slack://…, mailto://…)",
            field="url",
        )
    return url


def channel_public(channel: NotificationChannel) -> dict[str, Any]:
    """``{id, name, cooldown_seconds, enabled, last_sent_at, last_error, rule_id,
    builtin}`` (never the URL; ``rule_id`` null: every rule; ``builtin`` ``"webhook"``
    for the channel of ``MOORAGE_WEBHOOK_URL``)."""
    return {
        "id": channel.id,
        "name": channel.name,
        "cooldown_seconds": channel.cooldown_seconds,
        "enabled": channel.enabled,
        "last_sent_at": channel.last_sent_at.isoformat() if channel.last_sent_at else None,
        "last_error": channel.last_error,
        "rule_id": channel.rule_id,
        "builtin": channel.builtin,
    }


async def _owned(db: AsyncSession, org_id: str, channel_id: str) -> NotificationChannel:
    row = await db.get(NotificationChannel, channel_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"no channel {channel_id}")
    return row


async def list_channels(db: AsyncSession, user: User) -> list[dict[str, Any]]:
    """The org's channels: ``[channel_public]``. Raises Forbidden (not an operator)."""
    require_role(user, Role.OPERATOR)
    rows = await db.scalars(
        select(NotificationChannel).where(NotificationChannel.org_id == user.org_id)
    )
    return [channel_public(r) for r in rows]


async def create_channel(
    db: AsyncSession, keyring: Keyring, user: User, body: ChannelBody
) -> dict[str, Any]:
    """Add a channel (URL sealed; audited, committed); returns :func:`channel_public`.

    Raises:
        Forbidden: not an operator.
        InvalidInput: Apprise does not know the URL's scheme (field ``url``); no rule
            ``rule_id`` in the org (field ``rule_id``).
    """
    require_role(user, Role.OPERATOR)
    if body.rule_id is not None:
        rule = await db.get(AlertRule, body.rule_id)
        if rule is None or rule.org_id != user.org_id:
            raise InvalidInput(f"no alert rule {body.rule_id}", field="rule_id")
    channel = NotificationChannel(
        org_id=user.org_id,
        name=body.name,
        url_sealed=keyring.seal(check_apprise_url(body.url), CHANNEL_CONTEXT),
        cooldown_seconds=body.cooldown_seconds,
        enabled=body.enabled,
        rule_id=body.rule_id,
    )
    db.add(channel)
    await db.flush()
    audit_in(db, user, "channel.create", "channel", channel.name)
    await db.commit()
    return channel_public(channel)


async def remove_channel(db: AsyncSession, user: User, channel_id: str) -> None:
    """Remove a channel (audited, committed).

    Raises:
        Forbidden: not an operator.
        NotFound: no such channel.
        Conflict: a channel a setting manages (code ``builtin_channel``).
    """
    require_role(user, Role.OPERATOR)
    channel = await _owned(db, user.org_id, channel_id)
    if channel.builtin:
        raise Conflict(
            f"the channel {channel.name!r} comes from MOORAGE_WEBHOOK_URL: unset it and restart",
            code="builtin_channel",
        )
    await db.delete(channel)
    audit_in(db, user, "channel.remove", "channel", channel.name)
    await db.commit()


async def send_test(db: AsyncSession, keyring: Keyring, user: User, channel_id: str) -> None:
    """Send a test notification now (ignores the cooldown).

    Raises:
        Forbidden: not an operator.
        NotFound: no such channel.
        RuntimeUnavailable: the service refused it or did not answer.
    """
    require_role(user, Role.OPERATOR)
    channel = await _owned(db, user.org_id, channel_id)
    import apprise

    sender = apprise.Apprise()
    sender.add(keyring.open(channel.url_sealed, CHANNEL_CONTEXT))
    if not await sender.async_notify(
        title="Moorage test notification", body=f"Sent by {user.username} from the alerts page."
    ):
        raise RuntimeUnavailable(f"the notification to {channel.name} failed")


async def broadcast(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    org_id: str,
    title: str,
    body: str,
    kind: str = "info",
) -> int:
    """Send a notification that is not a fleet alert (an image update, a Git stack's
    deploy) to every enabled channel of org ``org_id`` that is not bound to one alert
    rule. ``kind`` is Apprise's notification type (``info``, ``success``,
    ``warning``, ``failure``). The channels' cooldown is for alert bursts and does
    not apply; a failure is logged and kept as the channel's ``last_error``, never
    raised. Returns how many channels took it."""
    import apprise  # heavy (its plugins): loaded when a notification goes out

    sent_to = 0
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
            try:
                sent = bool(
                    await sender.async_notify(
                        body=body, title=title, notify_type=apprise.NotifyType(kind)
                    )
                )
                detail = "the service refused or did not answer"
            except Exception as exc:  # Apprise plugins raise their own errors
                sent, detail = False, f"{type(exc).__name__}: {exc}"
            if sent:
                sent_to += 1
            else:
                channel.last_error = detail
                log.warning("notification to %s failed: %s", channel.name, detail)
    return sent_to
