"""The DashFleet API (seed ``004_*``): its agents' reports become nodes of the fleet.

Shapes follow DashFleet's ``main.py`` and ``fleet_agent.py``: errors are
``{"error": "<message>", "code": "<Moorage code>"}`` with Moorage's status code.

=====================================  =============================================
DashFleet                              Moorage
=====================================  =============================================
``POST /api/fleet/report``             the agent's report, ingested for the node named
  ``{"machine_id", "report"}``         by ``machine_id`` (registered on first report,
                                       tagged ``dashfleet``) → ``{"ok": true}``
``GET /api/fleet``                     the org's nodes: ``{"count", "expired", "data"}``;
                                       offline nodes are listed in ``expired`` (their
                                       ids), as DashFleet does with entries older than
                                       its TTL, and left out of ``data``
``GET /api/stats``                     one node's latest values (below)
``GET /api/status``                    the same with ``health: {"score", "status"}``
``GET /api/history?limit``             the node's last ``limit`` reports (1–500,
                                       default 200): ``{"count", "data"}``
``POST /api/action``                   queue a built-in action on a node (enabled for
  ``{"action", "machine_id"?,          it, agent allowing actions) or one of the org's
  "service"?}``                        allow-list: ``{"action", "ok", "run"}``
``POST /api/agent/link``               a one-time install link: ``{"ok", "link":
  ``{"ttl", "path"}``                  "/download/agent/<token>", "expires_in"}``
``GET /download/agent/<token>``        the install script, once
``POST /api/orgs`` ``{"name"}``        an org and its API key: ``{"org_id", "name",
                                       "api_key"}``
=====================================  =============================================

Who may call: DashFleet's shared tokens are settings. ``MOORAGE_COMPAT_FLEET_TOKEN``
(its ``FLEET_TOKEN``) lets agents report into the default org;
``MOORAGE_COMPAT_ACTION_TOKEN`` (its ``ACTION_TOKEN``) acts as an operator of the
default org for ``/api/action`` and ``/api/agent/link``. Both are sent as DashFleet
does: ``Authorization: Bearer <token>`` or a JSON ``token`` field. An org API key
(``X-API-Key`` too) or an operator's token works everywhere, in its own org; the
reading routes take every credential of :mod:`moorage.api.compat._auth`.

A node's values, DashFleet's names (``/api/stats``, and ``report`` in ``/api/fleet``):
``{"timestamp", "hostname", "cpu_percent", "ram_percent", "ram_used_gib",
"ram_total_gib", "disk_percent", "disk_used_gib", "disk_total_gib",
"uptime_seconds", "uptime_hms", "alerts": {"cpu", "ram"}, "alert_active"}``
(percents 0–100, GiB; ``ram_*_gib`` are null: Moorage keeps the percent only).
Which node ``/api/stats``, ``/api/status``, ``/api/history`` and ``/api/action``
mean: the one ``machine_id`` names (its name or id); without it, the org's only
node, else the node named like the hub's host (422 otherwise).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response

from moorage.api.compat import SeedErrorRoute
from moorage.api.compat import _dashfleet as df
from moorage.api.compat._auth import Compat, compat_user
from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.api.v1.agents import read_body
from moorage.api.v1.install import install_script
from moorage.db.base import utcnow
from moorage.errors import InvalidInput, MoorageError
from moorage.models.user import Role, User
from moorage.security.access import Agent
from moorage.services import orgs
from moorage.services.audit import client_address
from moorage.services.fleet import actions, enrolment, metrics, nodes

__all__ = ["router"]

ROUTER = "dashfleet"
REGISTERED_TAG = "dashfleet"
BODY_LIMIT = 64 * 1024


class DashFleetRoute(SeedErrorRoute):
    """Answers errors the way DashFleet does: ``{"error": "<message>"}``."""

    @staticmethod
    def error_body(error: MoorageError) -> dict[str, Any]:
        return {"error": error.message, "code": error.code, **error.details}


router = APIRouter(tags=["compat: dashfleet"], route_class=DashFleetRoute)


# -- routes ------------------------------------------------------------------------------


@router.post("/api/fleet/report", dependencies=[Agent])
async def fleet_report(request: Request, context: ContextDep) -> dict[str, Any]:
    """An agent's report: ``{"machine_id", "report": {"cpu_percent", "ram_percent",
    "disk_percent", "disk_used_gib"?, "disk_total_gib"?, "uptime_seconds"?, …}}`` with
    ``Authorization: Bearer <FLEET_TOKEN or org API key>`` → ``{"ok": true}``.

    The node named ``machine_id`` (else ``id``, else ``hostname``) is registered in the
    token's org on its first report. 401 without a valid token, 403 for a user below
    operator, 413 over 64 KiB, 422 names a bad field."""
    body: df.ReportBody = await read_body(request, df.ReportBody, BODY_LIMIT)
    settings = context.settings
    token = df.presented(request, body.token)
    if token and df.is_secret(token, settings.compat_fleet_token):
        org_id, actor = await df.default_org_id(context), "dashfleet:fleet-token"
    else:
        user = await df.operator(context, token, None, "")
        org_id, actor = user.org_id, user.username
    name = body.machine_id or body.id or body.hostname
    if not name or not re.match(df.MACHINE_ID, name):
        raise InvalidInput("machine_id: a machine id is required", field="machine_id")
    node = await nodes.reporting_node(
        context.sessionmaker, org_id, name, actor=actor, tags=[REGISTERED_TAG]
    )
    await context.ingest.accept(node, df.to_report(body, name, utcnow()))
    return {"ok": True}


@router.get("/api/fleet", dependencies=[Compat(ROUTER, Role.OPERATOR)])
async def fleet(db: DbDep, context: ContextDep, user: User = compat_user) -> dict[str, Any]:
    """The org's nodes as DashFleet lists its fleet: ``{"count", "expired": [ids],
    "data": [{"id", "hostname", "report", "ts", "client", "org_id", "status"}]}``;
    ``ts`` is the last report (Unix seconds); offline nodes are in ``expired`` only."""
    ttl = context.settings.fleet_ttl_seconds
    rows = await nodes.org_nodes(db, user)
    now = utcnow()
    live = [node for node in rows if not df.expired(node, now, ttl)]
    data = [
        {
            "id": node.name,
            "hostname": (node.latest or {}).get("hostname") or node.name,
            "report": {**df.stats_of(node), "health": df.health_of(node)},
            "ts": node.last_seen_at.timestamp() if node.last_seen_at else None,
            "client": None,
            "org_id": node.org_id,
            "status": node.status,
        }
        for node in live
    ]
    expired = sorted(n.name for n in rows if df.expired(n, now, ttl))
    return {"count": len(data), "expired": expired, "data": data}


@router.get("/api/stats", dependencies=[Compat(ROUTER, Role.OPERATOR)])
async def stats(
    db: DbDep, context: ContextDep, machine_id: str | None = None, user: User = compat_user
) -> dict[str, Any]:
    """One node's latest values (module docstring). 404 unknown node; 422 when
    ``machine_id`` is needed."""
    node = await df.node_of(db, user, machine_id)
    return df.stats_of(node)


@router.get("/api/status", dependencies=[Compat(ROUTER, Role.OPERATOR)])
async def status(
    db: DbDep, context: ContextDep, machine_id: str | None = None, user: User = compat_user
) -> dict[str, Any]:
    """``/api/stats`` plus ``health``: ``{"score": 0–100, "status": "ok" | "warn" |
    "critical" | "offline" | "unknown"}`` (Moorage's health, :mod:`moorage.services.
    fleet.health`)."""
    node = await df.node_of(db, user, machine_id)
    return {**df.stats_of(node), "health": df.health_of(node)}


@router.get("/api/history", dependencies=[Compat(ROUTER, Role.OPERATOR)])
async def history(
    db: DbDep,
    context: ContextDep,
    limit: str = "200",
    machine_id: str | None = None,
    user: User = compat_user,
) -> dict[str, Any]:
    """The node's last ``limit`` reports, oldest first: ``{"count", "data":
    [{"timestamp", "hostname", "cpu_percent", "ram_percent", "disk_percent",
    "uptime_hms"}]}``. ``limit`` is clamped to 1–500; one that is not a number means
    200, as in DashFleet."""
    try:
        count = max(1, min(int(limit), 500))
    except ValueError:
        count = 200
    node = await df.node_of(db, user, machine_id)
    rows = await metrics.recent_samples(db, node, count)
    data = [
        {
            "timestamp": row.at.isoformat(),
            "hostname": node.name,
            "cpu_percent": row.cpu_percent,
            "ram_percent": row.memory_percent,
            "disk_percent": row.disk_percent,
            "uptime_hms": "",
        }
        for row in rows
    ]
    return {"count": len(data), "data": data}


@router.post("/api/action", dependencies=[Agent])
async def action(request: Request, db: WriteDbDep, context: ContextDep) -> dict[str, Any]:
    """Queue an action on a node: ``{"action", "machine_id"?}`` with the
    ``ACTION_TOKEN`` (or an operator's token, or an org API key) as a bearer token or
    JSON ``token``. Answers ``{"action", "ok": true, "run": {id, state, …}}``; the
    agent runs it with its next report and its result shows in ``GET
    /api/v1/nodes/{node}/actions``.

    Only the built-in catalog's actions an operator enabled for the node (or one of
    its tags) and the org's allow-list run. 401/403 bad token; 404 unknown node or
    action not allow-listed; 409 not enabled for the node, or its agent does not
    allow actions; 422 names a bad field."""
    body: df.ActionBody = await read_body(request, df.ActionBody, 4096)
    user = await df.operator(
        context, df.presented(request, body.token), context.settings.compat_action_token, "action"
    )
    node = await df.node_of(db, user, body.machine_id)
    run = await actions.request_run(
        db, context.ingest, user, node.id, body.action, service=body.service
    )
    return {"action": body.action, "ok": True, "run": run}


@router.post("/api/agent/link", dependencies=[Agent])
async def agent_link(request: Request, context: ContextDep) -> dict[str, Any]:
    """A one-time install link: ``{"ttl": seconds (60 s–7 days, default 3600),
    "path"?}`` with the ``ACTION_TOKEN`` (or an operator's token, or an org API key)
    → ``{"ok": true, "link": "/download/agent/<token>", "expires_in": ttl}``. The
    link serves the install script once (it enrols the machine into the token's org).
    401/403 bad token; 422 names a bad field."""
    body: df.LinkBody = await read_body(request, df.LinkBody, 4096)
    user = await df.operator(
        context, df.presented(request, body.token), context.settings.compat_action_token, "action"
    )
    token, _ = await enrolment.create_install_link(
        context.sessionmaker, context.keyring, user, ttl_seconds=body.ttl, tags=[]
    )
    return {"ok": True, "link": f"/download/agent/{token}", "expires_in": body.ttl}


@router.get("/download/agent/{token}", dependencies=[Agent])
async def download_agent(
    token: str,
    request: Request,
    context: ContextDep,
    shell: Literal["sh", "powershell"] = Query("sh", description="The script's language."),
) -> Response:
    """What ``GET /api/v1/install/{token}`` serves: the install script (``sh``, or
    PowerShell for Windows with ``?shell=powershell``) with the hub's URL and a fresh
    enrolment token. Works once: 410 when used or expired, 404 unknown."""
    return await install_script(token, request, context, shell=shell)


@router.post("/api/orgs", dependencies=[Compat(ROUTER, Role.ADMIN)])
async def create_org(
    body: df.OrgBody, request: Request, db: WriteDbDep, user: User = compat_user
) -> dict[str, Any]:
    """Admins: an org and its first API key, ``{"org_id", "name", "api_key"}`` (the
    key is shown once). DashFleet's free-form name becomes the display name; the
    org's name is it in lowercase with other characters as ``-`` (422 when nothing
    is left; 409 when taken)."""
    slug = df.slug(body.name)
    if not slug:
        raise InvalidInput("name: use letters or digits", field="name")
    new = await orgs.create_org(
        db, user, slug, display_name=body.name.strip(), source=client_address(request)
    )
    await db.commit()
    return {"org_id": new.org.id, "name": new.org.name, "api_key": new.api_key}
