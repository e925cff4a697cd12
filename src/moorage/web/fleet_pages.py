"""UI of fleet monitoring (operators): the fleet table, a node's charts, alerts, and
enrolment with the one-line install command. Pages read through the fleet services,
which check the operator role as the API does; they change things through the JSON
API."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from moorage.api.deps import ContextDep, DbDep
from moorage.models.user import Role
from moorage.schemas.alert import RULE_METRICS
from moorage.security.access import Allow
from moorage.services.fleet import (
    actions,
    alert_rules,
    alerts,
    catalog,
    channels,
    enrolment,
    nodes,
)
from moorage.web.pages import PageUser, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

RANGES = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}


@router.get("/fleet", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)])
async def fleet_page(
    request: Request,
    user: PageUser,
    db: DbDep,
    context: ContextDep,
    status: str = "",
    tag: str = "",
    search: str = "",
    sort: str = "status",
    desc: bool = False,
) -> Response:
    """The nodes; htmx swaps the table when the ``nodes`` stream says something changed.
    Operators only (403 otherwise)."""
    everything = await nodes.list_nodes(db, user, context.settings.fleet_ttl_seconds)
    shown = nodes.filter_nodes(
        everything, status=status, tag=tag, search=search, sort=sort, desc=desc
    )
    counts: dict[str, int] = {}
    for node in everything:
        counts[node["status"]] = counts.get(node["status"], 0) + 1
    filters = {"status": status, "tag": tag, "search": search, "sort": sort, "desc": desc}
    sort_links = {}
    for key in ("name", "status", "health", "cpu_percent", "memory_percent", "disk_percent"):
        # A second click on the sorted column flips it; numbers start highest first.
        flip = (not desc) if sort == key else key not in ("name", "status")
        sort_links[key] = "?" + urlencode({**filters, "sort": key, "desc": str(flip).lower()})
    sort_links["last_seen"] = "?" + urlencode(
        {
            **filters,
            "sort": "last_seen",
            "desc": str(not desc if sort == "last_seen" else True).lower(),
        }
    )
    page = "_nodes.html" if request.headers.get("hx-request") else "fleet.html"
    return templates.TemplateResponse(
        request,
        page,
        {
            "user": user,
            "nodes": shown,
            "counts": counts,
            "total": len(everything),
            "tags": sorted({t for n in everything for t in n["tags"]}),
            "filters": filters,
            "sort_links": sort_links,
        },
    )


def _enabled_here(entry: dict, node: dict) -> bool:
    """Whether a built-in's catalog entry is enabled for ``node`` or one of its tags."""
    return any(
        e["node"] == node["name"] or (e["tag"] and e["tag"] in node["tags"])
        for e in entry["enabled"]
    )


@router.get("/fleet/nodes/{ref}", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)])
async def node_page(
    ref: str, request: Request, user: PageUser, db: DbDep, context: ContextDep, range: str = "1h"
) -> Response:
    """Charts (uPlot) over 1 h, 24 h, 7 d or 30 d, current values, alerts and actions.
    Operators only (403 otherwise)."""
    node = await nodes.get_node(db, user, ref, context.settings.fleet_ttl_seconds)
    allowed = await actions.list_actions(db, user)
    runs = await actions.list_runs(db, user, ref)
    # Only the built-ins of the node's platform family ("Linux 6.1 …", "Windows 10 …",
    # as the agent reports ``os``); all of them while it has not said.
    family = (node.get("os") or "").split(" ", 1)[0].lower()
    builtins = [
        {**entry, "here": _enabled_here(entry, node)}
        for entry in await catalog.list_catalog(db, user)
        if not family or family in entry["platforms"]
    ]
    return templates.TemplateResponse(
        request,
        "node.html",
        {
            "user": user,
            "node": node,
            "range": range if range in RANGES else "1h",
            "ranges": RANGES,
            "actions": allowed,
            "builtins": builtins,
            "runs": runs[:20],
        },
    )


@router.get("/fleet/alerts", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)])
async def alerts_page(request: Request, user: PageUser, db: DbDep) -> Response:
    """Open alerts, the history, rules (enable/disable; built-in ones cannot be removed)
    and notification channels. Operators only."""
    rules = await alert_rules.list_rules(db, user)
    return templates.TemplateResponse(
        request,
        "fleet_alerts.html",
        {
            "user": user,
            "alerts": await alerts.list_alerts(db, user, None, 300),
            "rules": rules,
            "rule_names": {r["id"]: r["name"] for r in rules},
            "channels": await channels.list_channels(db, user),
            "metrics": RULE_METRICS,
        },
    )


@router.get("/fleet/enroll", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)])
async def enroll_page(request: Request, user: PageUser, db: DbDep) -> Response:
    """Enrolment tokens, and install links with their one-line command. Operators only."""
    return templates.TemplateResponse(
        request,
        "enroll.html",
        {"user": user, "tokens": await enrolment.list_enrollment_tokens(db, user)},
    )
