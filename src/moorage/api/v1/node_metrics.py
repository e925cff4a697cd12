"""A node's metric history and its exports (operators)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from moorage.api.deps import ContextDep, DbDep
from moorage.api.v1._docker import Operator
from moorage.errors import InvalidInput
from moorage.models.user import Role, User
from moorage.security.access import Allow
from moorage.services.fleet import metrics

router = APIRouter(tags=["fleet"])


@router.get("/nodes/{ref}/metrics", response_model=None, dependencies=[Allow(Role.OPERATOR)])
async def node_metrics(
    ref: str,
    db: DbDep,
    context: ContextDep,
    user: User = Operator,
    since: str | None = None,
    until: str | None = None,
    step: int | None = None,
    format: str = "json",
) -> Any:
    """History between ``since`` and ``until`` (RFC 3339 or Unix seconds; default the
    last hour), averaged per ``step`` seconds. ``format``: ``json`` (columnar, as
    uPlot takes it), ``csv`` or ``jsonl`` (one row per point, as a download).
    422 names a bad parameter (more than 5,000 points included); 404 unknown node."""
    if format not in ("json", *metrics.EXPORT_FORMATS):
        raise InvalidInput("format must be json, csv or jsonl", field="format")
    node, data = await metrics.node_history(
        db,
        user,
        ref,
        since=since,
        until=until,
        step=step,
        retention=metrics.retention_of(context.settings),
    )
    if format == "json":
        return data
    headers = {"Content-Disposition": f'attachment; filename="{node.name}-metrics.{format}"'}
    return PlainTextResponse(
        metrics.export_text(data, format),
        media_type=metrics.EXPORT_FORMATS[format],
        headers=headers,
    )
