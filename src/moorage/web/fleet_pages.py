"""UI of fleet monitoring (operators): the fleet table, a node's charts, alerts, and
enrolment with the one-line install command. Pages read through the API's
functions and change things through the JSON API."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from moorage.api.deps import ContextDep, DbDep
from moorage.api.v1 import alerts as alerts_api
from moorage.api.v1 import nodes as nodes_api
from moorage.fleet.alerts import RULE_METRICS
from moorage.models.fleet import ActionDefinition
from moorage.models.user import Role
from moorage.security.rbac import require_role
from moorage.web.pages import PageUser, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

RANGES = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}


@router.get("/fleet", response_class=HTMLResponse)
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
    """The nodes; htmx swaps the table when the ``nodes`` stream says something changed."""
    require_role(user, Role.OPERATOR)
    everything = await nodes_api.list_nodes(db, context, user)
    nodes = nodes_api.filter_nodes(
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
            "nodes": nodes,
            "counts": counts,
            "total": len(everything),
            "tags": sorted({t for n in everything for t in n["tags"]}),
            "filters": filters,
            "sort_links": sort_links,
        },
    )


@router.get("/fleet/nodes/{ref}", response_class=HTMLResponse)
async def node_page(
    ref: str, request: Request, user: PageUser, db: DbDep, context: ContextDep, range: str = "1h"
) -> Response:
    """Charts (uPlot) over 1 h, 24 h, 7 d or 30 d, current values, alerts and actions."""
    require_role(user, Role.OPERATOR)
    node = await nodes_api.get_node(ref, db, context, user)
    actions = list(
        await db.scalars(
            select(ActionDefinition)
            .where(ActionDefinition.org_id == user.org_id)
            .order_by(ActionDefinition.name)
        )
    )
    runs = await nodes_api.list_runs(ref, db, user)
    return templates.TemplateResponse(
        request,
        "node.html",
        {
            "user": user,
            "node": node,
            "range": range if range in RANGES else "1h",
            "ranges": RANGES,
            "actions": actions,
            "runs": runs[:20],
        },
    )


@router.get("/fleet/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request, user: PageUser, db: DbDep) -> Response:
    """Open alerts, the history, rules and notification channels."""
    require_role(user, Role.OPERATOR)
    return templates.TemplateResponse(
        request,
        "fleet_alerts.html",
        {
            "user": user,
            "alerts": await alerts_api.list_alerts(db, user, None, 300),
            "rules": await alerts_api.list_rules(db, user),
            "channels": await alerts_api.list_channels(db, user),
            "metrics": RULE_METRICS,
        },
    )


@router.get("/fleet/enroll", response_class=HTMLResponse)
async def enroll_page(request: Request, user: PageUser, db: DbDep) -> Response:
    """Enrolment tokens, and install links with their one-line command."""
    require_role(user, Role.OPERATOR)
    return templates.TemplateResponse(
        request,
        "enroll.html",
        {"user": user, "tokens": await nodes_api.list_tokens(db, user)},
    )
