"""The audit log (admins): ``GET /api/v1/audit``, as JSON or CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from moorage.api.deps import AdminUser, DbDep
from moorage.api.pagination import decode_cursor, encode_cursor
from moorage.errors import InvalidInput
from moorage.models.user import Role
from moorage.security.access import Allow
from moorage.services.audit_search import CSV_MAX_ROWS, AuditFilter, csv_rows, search

__all__ = ["router"]

router = APIRouter(tags=["audit"])

JSON_MAX_ROWS = 1000
MAX_OFFSET = 10**9
"""Past any audit log's length, and within every database's integers."""


@router.get("/audit", dependencies=[Allow(Role.ADMIN)], response_model=None)
async def list_audit(
    db: DbDep,
    admin: AdminUser,
    username: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: Annotated[str | None, Query(alias="from")] = None,
    until: Annotated[str | None, Query(alias="to")] = None,
    tz: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    format: Literal["json", "csv"] = "json",
    *,
    request: Request,
    response: Response,
) -> list[dict[str, Any]] | Response:
    """Admins: the org's audit events, newest first.

    Filters: ``username`` (who acted, exact), ``action`` (an action or its start:
    ``session.``), ``object_type`` and ``object_id`` (exact), ``from`` and ``to``
    (ISO 8601 dates or times; without an offset they are read in the IANA zone
    ``tz``, else UTC; a bare ``to`` date includes that day).

    ``format=json`` (default): ``[{at, username, action, object_type, object_id,
    environment, source, detail, request_id}]`` (``request_id``: the ``X-Request-ID``
    of the request that caused it, also in its log lines), at most ``limit`` (default
    200, ≤ 1000) from ``offset`` (or ``cursor``); when more may follow, ``Link: <…>;
    rel="next"`` gives the next page's URL (RFC 8288). ``format=csv``: the same columns
    as a ``text/csv`` download, at most ``limit`` (default and maximum 100000). 422
    names a bad filter or limit.
    """
    where = AuditFilter.parse(
        username=username,
        action=action,
        object_type=object_type,
        object_id=object_id,
        since=since,
        until=until,
        tz=tz,
    )
    most = CSV_MAX_ROWS if format == "csv" else JSON_MAX_ROWS
    if limit is not None and not 1 <= limit <= most:
        raise InvalidInput(f"limit must be 1-{most} for format={format}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be 0-{MAX_OFFSET}", field="offset")
    if cursor is not None:
        offset = decode_cursor(cursor)
    size = limit or (most if format == "csv" else 200)
    rows = await search(db, admin, where, offset=offset, limit=size)
    if format == "csv":
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return StreamingResponse(
            csv_rows(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="moorage-audit-{stamp}.csv"'},
        )
    if len(rows) == size:  # a full page: more may follow
        url = request.url.remove_query_params("offset").include_query_params(
            limit=size, cursor=encode_cursor(offset + size)
        )
        response.headers["Link"] = f'<{url}>; rel="next"'
    return [
        {
            "at": row.at,
            "username": row.username,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "environment": row.environment,
            "source": row.source,
            "detail": row.detail,
            "request_id": row.request_id,
        }
        for row in rows
    ]
