"""What every org's alerting starts with, and DashFleet's webhook as a setting.

- Every org has the rule "health turned critical" (``builtin`` =
  :data:`~moorage.models.fleet.HEALTH_CRITICAL`, metric ``critical``, severity
  ``critical``): a node whose health status (:mod:`moorage.services.fleet.health`)
  becomes ``critical`` opens an alert. It is created with the org
  (:func:`moorage.services.orgs.create_org`) and, for orgs that predate it, at
  start-up (:func:`apply_defaults`). Operators enable or disable it; they cannot
  remove it.
- ``MOORAGE_WEBHOOK_URL`` / ``MOORAGE_WEBHOOK_MIN_SECONDS`` (the seed's
  ``WEBHOOK_URL`` / ``WEBHOOK_MIN_SECONDS``, seed 004 "Alertes webhook") manage,
  at start-up, one channel of the default org bound to that rule with a cooldown
  of that many seconds. An http(s) URL becomes an Apprise ``json://`` URL whose
  payload is remapped to the seed's ``{"text": "…"}`` (Apprise's custom JSON
  payload: ``:message=text`` renames a field, an empty ``:title=`` drops one;
  https://appriseit.com/services/json/).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, quote, urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.config import Settings
from moorage.db.engine import write_session
from moorage.models.fleet import HEALTH_CRITICAL, WEBHOOK_CHANNEL, AlertRule, NotificationChannel
from moorage.models.org import DEFAULT_ORG, Org
from moorage.security.crypto import Keyring
from moorage.services.fleet.channels import CHANNEL_CONTEXT, check_apprise_url

__all__ = [
    "HEALTH_RULE_NAME",
    "WEBHOOK_CHANNEL_NAME",
    "add_default_rule",
    "apply_defaults",
    "webhook_apprise_url",
]

log = logging.getLogger(__name__)

HEALTH_RULE_NAME = "Health turned critical"
WEBHOOK_CHANNEL_NAME = "Webhook (MOORAGE_WEBHOOK_URL)"
# The fields of Apprise's JSON payload other than the message, dropped so that the
# body is exactly the seed's {"text": "..."}.
_DROPPED_FIELDS = ("title", "version", "attachments", "type")


def add_default_rule(db: AsyncSession, org_id: str) -> AlertRule:
    """Add org ``org_id``'s "health turned critical" rule (not flushed or committed).
    The caller checks it does not exist yet (one per org: a unique constraint)."""
    rule = AlertRule(
        org_id=org_id,
        name=HEALTH_RULE_NAME,
        metric="critical",
        threshold=0.0,
        duration_seconds=0,
        severity="critical",
        tag=None,
        enabled=True,
        builtin=HEALTH_CRITICAL,
    )
    db.add(rule)
    return rule


def webhook_apprise_url(url: str) -> str:
    """The Apprise URL that sends ``{"text": "<message>"}`` by POST to ``url``.

    ``http://`` and ``https://`` become ``json://`` and ``jsons://`` with the host,
    port, credentials and path kept and the query's parameters passed on (Apprise's
    ``-name=value``); any other scheme is taken as an Apprise URL and returned as is.

    Raises:
        InvalidInput: not a URL Apprise can use (field ``url``).
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        return check_apprise_url(url.strip())
    scheme = "jsons" if parts.scheme.lower() == "https" else "json"
    query = [f"-{quote(k, safe='')}={quote(v, safe='')}" for k, v in parse_qsl(parts.query)]
    query += ["method=POST", ":message=text", *(f":{field}=" for field in _DROPPED_FIELDS)]
    return check_apprise_url(f"{scheme}://{parts.netloc}{parts.path or '/'}?{'&'.join(query)}")


async def apply_defaults(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, keyring: Keyring
) -> None:
    """At start-up, idempotently: the default rule of every org that lacks one, and the
    ``MOORAGE_WEBHOOK_URL`` channel of the default org created, updated (URL, cooldown,
    rule) or, when the setting is unset, removed.

    Raises:
        InvalidInput: ``MOORAGE_WEBHOOK_URL`` is not a URL Apprise can use.
    """
    async with write_session(sessionmaker) as db:
        have = set(
            await db.scalars(select(AlertRule.org_id).where(AlertRule.builtin == HEALTH_CRITICAL))
        )
        for org_id in await db.scalars(select(Org.id)):
            if org_id not in have:
                add_default_rule(db, org_id)
                log.info("created the rule %r of org %s", HEALTH_RULE_NAME, org_id)
        await db.flush()
        await _sync_webhook(db, settings, keyring)


async def _sync_webhook(db: AsyncSession, settings: Settings, keyring: Keyring) -> None:
    channel = await db.scalar(
        select(NotificationChannel).where(NotificationChannel.builtin == WEBHOOK_CHANNEL)
    )
    if settings.webhook_url is None or not settings.webhook_url.get_secret_value().strip():
        if channel is not None:
            await db.delete(channel)
            log.info("removed the webhook channel: MOORAGE_WEBHOOK_URL is unset")
        return
    url = webhook_apprise_url(settings.webhook_url.get_secret_value())
    org_id = await db.scalar(select(Org.id).where(Org.name == DEFAULT_ORG))
    rule_id = await db.scalar(
        select(AlertRule.id).where(AlertRule.org_id == org_id, AlertRule.builtin == HEALTH_CRITICAL)
    )
    if org_id is None or rule_id is None:  # bootstrap creates both before this runs
        log.warning("no default org or rule yet: the webhook channel waits for a restart")
        return
    if channel is None:
        channel = NotificationChannel(
            org_id=org_id, name=WEBHOOK_CHANNEL_NAME, builtin=WEBHOOK_CHANNEL, enabled=True
        )
        db.add(channel)
        log.info("created the webhook channel (MOORAGE_WEBHOOK_URL)")
    elif keyring.open(channel.url_sealed, CHANNEL_CONTEXT) == url:
        url = ""  # unchanged: keep the sealed value
    if url:
        channel.url_sealed = keyring.seal(url, CHANNEL_CONTEXT)
    channel.org_id, channel.rule_id = org_id, rule_id
    channel.cooldown_seconds = settings.webhook_min_seconds
