"""Admins' overviews: every session of the org (Sessions) and the audit log.

The Sessions page lists through :func:`~moorage.services.session_lists.search_sessions`,
which asks the session visibility who may see everyone's sessions; an overview for
instructors (their workshops' sessions) would be this page with a narrower
declaration and the same service call.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from moorage.api.deps import DbDep
from moorage.errors import InvalidInput
from moorage.models.audit import AuditEvent
from moorage.models.user import Role
from moorage.security.access import Allow
from moorage.security.auth import AdminUser
from moorage.services.audit_search import AuditFilter, known_values, search
from moorage.services.session_lists import STATE_CHOICES, search_sessions, states_named
from moorage.services.templates import visible_templates
from moorage.services.users import users_of
from moorage.web.pages import templates

__all__ = ["AUDIT_PAGE_SIZE", "router"]

router = APIRouter(include_in_schema=False)

AUDIT_PAGE_SIZE = 100


@router.get("/admin/sessions", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def sessions_overview(
    request: Request,
    user: AdminUser,
    db: DbDep,
    owner: str | None = None,
    template: str | None = None,
    state: str | None = None,
) -> Response:
    """Admins: the org's sessions (live ones unless ``state`` says otherwise: see
    :data:`~moorage.services.session_lists.STATE_CHOICES`), narrowed to an ``owner``
    (username) and a ``template`` (name); owner, template, kind, environment,
    started, time left, and open / +30 min / end. htmx refreshes get the table only.
    A bad ``state`` is shown on the page (422)."""
    owner, template = (owner or "").strip(), (template or "").strip()
    error: str | None = None
    try:
        states = states_named(state)
    except InvalidInput as exc:
        error, states = exc.localized_message(), ()
    sessions = await search_sessions(
        db, user, everyone=True, owner=owner or None, template=template or None, states=states
    )
    fragment = bool(request.headers.get("hx-request"))
    context = {
        "user": user,
        "sessions": sessions,
        "owner": owner,
        "template": template,
        "state": (state or "live").strip().lower(),
        "error": error,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    if not fragment:
        context["usernames"] = [u.username for u in await users_of(db, user)]
        context["templates"] = await visible_templates(db, user)
        context["state_choices"] = STATE_CHOICES
    return templates.TemplateResponse(
        request,
        "_admin_sessions.html" if fragment else "admin_sessions.html",
        context,
        status_code=422 if error else 200,
    )


@router.get("/admin/audit", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def audit_page(
    request: Request,
    user: AdminUser,
    db: DbDep,
    username: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: Annotated[str | None, Query(alias="from")] = None,
    until: Annotated[str | None, Query(alias="to")] = None,
    tz: str | None = None,
    offset: int = 0,
) -> Response:
    """Admins: the org's audit events, newest first, :data:`AUDIT_PAGE_SIZE` a page
    from ``offset``, filtered by who (``username``), ``action`` (or its start),
    object (``object_type``, ``object_id``) and time (``from``, ``to``, read in the
    browser's zone ``tz``), with a CSV export of the same filter
    (``/api/v1/audit?format=csv``). A bad filter is shown on the page (422)."""
    typed = {
        "username": username or "",
        "action": action or "",
        "object_type": object_type or "",
        "object_id": object_id or "",
        "from": since or "",
        "to": until or "",
        "tz": tz or "",
    }
    offset = max(0, offset)
    error: str | None = None
    events: list[AuditEvent] = []
    try:
        where = AuditFilter.parse(
            username=username,
            action=action,
            object_type=object_type,
            object_id=object_id,
            since=since,
            until=until,
            tz=tz,
        )
        events = await search(db, user, where, offset=offset, limit=AUDIT_PAGE_SIZE + 1)
    except InvalidInput as exc:
        error = exc.localized_message()
    actions, object_types = await known_values(db, user)
    query = {k: v for k, v in typed.items() if v}
    older = offset + AUDIT_PAGE_SIZE if len(events) > AUDIT_PAGE_SIZE else None
    newer = max(0, offset - AUDIT_PAGE_SIZE) if offset > 0 else None
    return templates.TemplateResponse(
        request,
        "audit.html",
        {
            "user": user,
            "events": events[:AUDIT_PAGE_SIZE],
            "filters": typed,
            "filtered": any(v for k, v in typed.items() if k != "tz"),
            "error": error,
            "actions": actions,
            "object_types": object_types,
            "offset": offset,
            "newer_url": None if newer is None else _page_url(query, newer),
            "older_url": None if older is None else _page_url(query, older),
            "csv_url": "/api/v1/audit?" + urlencode({**query, "format": "csv"}),
        },
        status_code=422 if error else 200,
    )


def _page_url(query: dict[str, str], offset: int) -> str:
    return "/admin/audit?" + urlencode({**query, **({"offset": str(offset)} if offset else {})})
