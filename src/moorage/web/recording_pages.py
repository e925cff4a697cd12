"""Recordings in the browser: the player page and the admins' Recordings page.

* ``/recordings/{id}``: a terminal recording plays in ``asciinema-player`` (vendored
  by ``scripts/build-static.sh``), a desktop one in noVNC fed from the stored stream
  (``static/recording-player.js``); both fetch ``/api/v1/recordings/{id}/file``,
  which audits the read. The page allows WebAssembly (the player's terminal
  emulator): CSP ``'wasm-unsafe-eval'``, on this page only.
* ``/admin/recordings``: the org's recordings, a text search of terminal output,
  and the org's policy (every session recorded; retention in days).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from moorage.api.deps import ContextDep
from moorage.errors import InvalidInput
from moorage.models.user import Role
from moorage.security.access import Allow, Owner
from moorage.security.auth import AdminUser
from moorage.security.headers import NONCE_SCOPE_KEY, content_security_policy
from moorage.services.audit import client_address
from moorage.web.pages import PageUser, _redirect, _same_origin, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/recordings/{recording_id}", response_class=HTMLResponse, dependencies=[Owner])
async def recording_page(
    recording_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """Play one recording (its owner's or an admin's; 404 otherwise)."""
    recording = await context.recordings.get(user, recording_id)
    response = templates.TemplateResponse(
        request, "recording.html", {"user": user, "recording": recording}
    )
    nonce = str(request.scope.get(NONCE_SCOPE_KEY, ""))
    response.headers["content-security-policy"] = content_security_policy(nonce, wasm=True)
    return response


@router.get("/admin/recordings", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def recordings_overview(
    request: Request,
    user: AdminUser,
    context: ContextDep,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Admins: the org's recordings, newest first; ``q`` searches terminal output
    (audited) and shows the text around each match."""
    q = q.strip()
    snippets: dict[str, str] = {}
    if q:
        hits = await context.recordings.search(user, q, source=client_address(request))
        recordings = [hit.recording for hit in hits]
        snippets = {hit.recording.id: hit.snippet for hit in hits}
    else:
        recordings = await context.recordings.list(user, everyone=True)
    org = await context.recordings.policy(user)
    return templates.TemplateResponse(
        request,
        "admin_recordings.html",
        {"user": user, "recordings": recordings, "snippets": snippets, "q": q, "org": org},
    )


@router.post("/ui/recording-policy", dependencies=[Allow(Role.ADMIN)])
async def recording_policy_submit(
    request: Request,
    user: AdminUser,
    context: ContextDep,
    recording_retention_days: Annotated[str, Form(max_length=10)] = "",
    recording_required: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Save the org's recording policy from the Recordings page."""
    _same_origin(request)
    try:
        days = int(recording_retention_days)
    except ValueError as exc:
        raise InvalidInput(
            "the retention is a number of days", field="recording_retention_days"
        ) from exc
    if not 1 <= days <= 3650:
        raise InvalidInput("the retention is 1 to 3650 days", field="recording_retention_days")
    await context.recordings.set_policy(
        user,
        required=recording_required is not None,
        retention_days=days,
        source=client_address(request),
    )
    return _redirect(request, "/admin/recordings")
