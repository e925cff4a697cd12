"""DashFleet's side of :mod:`moorage.api.compat.dashfleet`: its request bodies, its
tokens, and its field names for a node's values (the route module's docstring
describes them)."""

from __future__ import annotations

import hmac
import re
import socket
from datetime import datetime
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.api.compat._auth import API_KEY_HEADER
from moorage.context import Context
from moorage.errors import InvalidInput, Unauthenticated
from moorage.models.fleet import Node
from moorage.models.org import DEFAULT_ORG
from moorage.models.user import Role, User
from moorage.schemas.fleet import SERVICE_PATTERN, Disk, Metrics, Report
from moorage.security.auth import authenticate_token
from moorage.security.rbac import require_role
from moorage.services import orgs
from moorage.services.fleet import nodes

__all__ = [
    "MACHINE_ID",
    "ActionBody",
    "LinkBody",
    "OrgBody",
    "ReportBody",
    "default_org_id",
    "expired",
    "health_of",
    "is_secret",
    "node_of",
    "operator",
    "presented",
    "slug",
    "stats_of",
    "to_report",
]

GIB = 1024**3
CPU_ALERT, RAM_ALERT = 80.0, 90.0  # DashFleet's CPU_ALERT and RAM_ALERT (percent)
MACHINE_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,254}$"


# -- request bodies (DashFleet clients send more fields; they are ignored) -----------------


class _Seed(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SeedReport(_Seed):
    """``report`` of ``fleet_agent.py``: percents 0–100, GiB, seconds. Its
    ``timestamp`` (local time, no offset) is not used: the hub stamps a report when it
    arrives, as DashFleet's server does (``ts``)."""

    cpu_percent: float = Field(ge=0, le=100)
    ram_percent: float = Field(ge=0, le=100)
    disk_percent: float = Field(ge=0, le=100)
    disk_used_gib: float | None = Field(None, ge=0, le=1e9)
    disk_total_gib: float | None = Field(None, ge=0, le=1e9)
    uptime_seconds: float | None = Field(None, ge=0, le=1e10)


class ReportBody(_Seed):
    """``POST /api/fleet/report``: ``{"machine_id", "report"}`` (``id`` and ``hostname``
    name the machine in older agents; ``token`` is the credential when no header)."""

    machine_id: str | None = Field(None, pattern=MACHINE_ID)
    id: str | None = Field(None, pattern=MACHINE_ID)
    hostname: str | None = Field(None, max_length=255)
    token: str | None = Field(None, max_length=256)
    report: SeedReport


class ActionBody(_Seed):
    """``POST /api/action``: the action's name, the node, the credential."""

    action: str = Field(min_length=1, max_length=64)
    machine_id: str | None = Field(None, max_length=255)
    service: str | None = Field(None, pattern=SERVICE_PATTERN)
    token: str | None = Field(None, max_length=256)


class LinkBody(_Seed):
    """``POST /api/agent/link``: the link's life (seconds). ``path``, the file
    DashFleet's server sent, is accepted and ignored: the link serves Moorage's
    install script, which fetches the agent."""

    ttl: int = Field(3600, ge=60, le=7 * 86400)
    path: str | None = Field(None, max_length=255)
    token: str | None = Field(None, max_length=256)


class OrgBody(_Seed):
    """``POST /api/orgs``: the org's name, as DashFleet's admin page sends it."""

    name: str = Field(min_length=1, max_length=128)


# -- who is calling ----------------------------------------------------------------------


def presented(request: Request, body_token: str | None) -> str | None:
    """The token as DashFleet's clients send it: bearer header, ``X-API-Key``, or the
    body's ``token``."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get(API_KEY_HEADER, "").strip() or (body_token or "").strip() or None


def is_secret(token: str, secret: Any) -> bool:
    return secret is not None and hmac.compare_digest(
        token.encode(), secret.get_secret_value().encode()
    )


async def default_org_id(context: Context) -> str:
    async with context.sessionmaker() as db:
        return (await orgs.find_org(db, DEFAULT_ORG)).id


async def operator(context: Context, token: str | None, shared: Any, name: str) -> User:
    """The operator a DashFleet token stands for: the shared setting's (an operator of
    the default org named ``dashfleet:<name>``, never stored) or a token's user.

    Raises:
        Unauthenticated: no token, or an unknown one.
        Forbidden: the token's user is not an operator.
    """
    if not token:
        raise Unauthenticated("send the token as Authorization: Bearer <token>")
    if is_secret(token, shared):
        org_id = await default_org_id(context)
        return User(username=f"dashfleet:{name}", role=Role.OPERATOR, org_id=org_id)
    async with context.sessionmaker() as db:
        user = await authenticate_token(db, token)
    require_role(user, Role.OPERATOR)
    return user


# -- translation -------------------------------------------------------------------------


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def _gib(value: Any) -> float | None:
    return round(value / GIB, 2) if isinstance(value, int | float) else None


def stats_of(node: Node) -> dict[str, Any]:
    """A node's latest values under DashFleet's names (see the module docstring)."""
    latest = node.latest or {}
    disks = latest.get("disks") or []
    disk: dict[str, Any] = max(disks, key=lambda d: d.get("percent", 0), default={})
    cpu, ram = latest.get("cpu_percent"), latest.get("memory_percent")
    alerts = {
        "cpu": cpu is not None and cpu >= CPU_ALERT,
        "ram": ram is not None and ram >= RAM_ALERT,
    }
    return {
        "timestamp": latest.get("collected_at"),
        "hostname": latest.get("hostname") or node.name,
        "cpu_percent": cpu,
        "ram_percent": ram,
        "ram_used_gib": None,
        "ram_total_gib": None,
        "disk_percent": latest.get("disk_percent"),
        "disk_used_gib": _gib(disk.get("used_bytes")),
        "disk_total_gib": _gib(disk.get("total_bytes")),
        "uptime_seconds": latest.get("uptime_seconds"),
        "uptime_hms": _hms(latest.get("uptime_seconds")),
        "alerts": alerts,
        "alert_active": any(alerts.values()),
    }


def health_of(node: Node) -> dict[str, Any]:
    return {"score": node.health, "status": node.status}


def expired(node: Node, now: datetime, ttl_seconds: float) -> bool:
    seen = node.last_seen_at
    return node.status == "offline" or seen is None or (now - seen).total_seconds() > ttl_seconds


def to_report(body: ReportBody, name: str, at: datetime) -> Report:
    """DashFleet's report as Moorage's :class:`Report`, collected ``at`` (when it
    arrived). What DashFleet does not measure (load, swap, rates, processes) is null,
    not zero."""
    seed = body.report
    disks = []
    if seed.disk_total_gib is not None:
        total = int(seed.disk_total_gib * GIB)
        used = int((seed.disk_used_gib or 0) * GIB)
        disks.append(Disk(mount="/", percent=seed.disk_percent, used_bytes=used, total_bytes=total))
    else:
        disks.append(Disk(mount="/", percent=seed.disk_percent, used_bytes=0, total_bytes=0))
    values = Metrics(cpu_percent=seed.cpu_percent, load1=0.0, memory_percent=seed.ram_percent)
    unknown = ("load1", "swap_percent", "disk_read_bps", "disk_write_bps", "net_rx_bps")
    values = values.model_copy(update=dict.fromkeys((*unknown, "net_tx_bps", "processes")))
    return Report(
        agent_version="dashfleet",
        collected_at=at,
        hostname=(body.hostname or name)[:255],
        uptime_seconds=seed.uptime_seconds or 0.0,
        metrics=values,
        disks=disks,
    )


async def node_of(db: AsyncSession, user: User, machine_id: str | None) -> Node:
    """The node ``machine_id`` names, or the default one (module docstring).

    Raises:
        NotFound: no such node.
        InvalidInput: no ``machine_id`` and no default node (field ``machine_id``).
    """
    if machine_id:
        return await nodes.find_node(db, user.org_id, machine_id)
    rows = await nodes.org_nodes(db, user)
    here = [node for node in rows if node.name == socket.gethostname()]
    if len(rows) == 1 or here:
        return rows[0] if len(rows) == 1 else here[0]
    listed = ", ".join(node.name for node in rows[:20]) or "none reported yet"
    raise InvalidInput(f"name the node with machine_id (nodes: {listed})", field="machine_id")


def slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_.-]+", "-", name.strip().lower()).strip("-.")
    if slug and not re.match(r"[a-z_]", slug):
        slug = f"_{slug}"
    return slug[: orgs.ORG_NAME_LIMIT]
