"""A session's other pages: its web app inside a Moorage page, and how it ended.

* ``/sessions/{id}/app`` (kind ``http``): the app in a frame under a slim bar with
  the time left, the expiry warnings and "+30 min" (``static/session.js``), and a
  link to open the app in its own tab. The page may frame only Moorage itself and
  the app's workspace origin (CSP ``frame-src``); the app's answers may be framed
  only by Moorage (``frame-ancestors``, :mod:`moorage.gateway.http_proxy`).
* ``/ui/sessions/{id}/ended``: the "ended at 14:02 (its time was up)" card with a
  form to launch the same template again, which the session page swaps in when
  the session ends while it is open.
* ``/ui/sessions/{id}/stop`` and ``/start``: the Stop and Start buttons of the
  session page and of the sessions list (the service's rules and audit; a refusal
  is shown where the button was pressed).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from moorage.api.deps import ContextDep
from moorage.errors import Conflict, NotFound
from moorage.models.lease import LeaseState
from moorage.models.template import TemplateKind
from moorage.security.access import Owner
from moorage.security.headers import NONCE_SCOPE_KEY, content_security_policy
from moorage.services.audit import client_address
from moorage.web.pages import PageUser, _redirect, _same_origin, templates
from moorage.web.session_view import session_view

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/sessions/{session_id}/app", response_class=HTMLResponse, dependencies=[Owner])
async def session_app_page(
    session_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """A web app (kind ``http``) framed under a bar with its session's countdown,
    warnings and "+30 min"; a session that is not ready sends the browser to its
    page. 404 for a session that serves no web app (or is not the caller's)."""
    session = await context.sessions.get(user, session_id)
    if session.template.kind != TemplateKind.HTTP.value:
        raise NotFound(f"session {session_id} serves no web app", code="session_not_found")
    if session.state != LeaseState.READY.value:
        return RedirectResponse(f"/sessions/{session_id}", status_code=303)
    view = await session_view(request, context, user, session)
    host = request.headers.get("host", "")
    workspace = context.settings.workspace_origin(request.url.scheme, host, session.id)
    # On its own origin the app keeps it in the frame (it cannot reach this page);
    # on Moorage's, its answers are sandboxed into an opaque origin anyway.
    response = templates.TemplateResponse(
        request,
        "session_app.html",
        {"user": user, "session": session, "app_origin": workspace, **view},
    )
    frame_src = f"'self' {workspace}" if workspace else "'self'"
    nonce = str(request.scope.get(NONCE_SCOPE_KEY, ""))
    response.headers["content-security-policy"] = content_security_policy(
        nonce, frame_src=frame_src
    )
    return response


@router.get("/ui/sessions/{session_id}/ended", response_class=HTMLResponse, dependencies=[Owner])
async def session_ended_fragment(
    session_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """The card of an ended (or ending) session: when and why it ended, and a form to
    launch its template again. 409 while the session lives."""
    session = await context.sessions.get(user, session_id)
    view = await session_view(request, context, user, session)
    if view["ending"] is None:
        raise Conflict(
            "the session is %(state)s", params={"state": session.state}, code="session_live"
        )
    return templates.TemplateResponse(
        request, "_session_ended.html", {"user": user, "session": session, **view}
    )


@router.post("/ui/sessions/{session_id}/stop", dependencies=[Owner])
async def stop_submit(
    session_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """Stop a session (its disk is kept, its deadline runs) and show the page it was
    stopped from again; 409 when it is not ready."""
    _same_origin(request)
    await context.sessions.stop(user, session_id, source=client_address(request))
    return _redirect(request, request.headers.get("hx-current-url") or f"/sessions/{session_id}")


@router.post("/ui/sessions/{session_id}/start", dependencies=[Owner])
async def start_submit(
    session_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """Start a stopped session again (answers once it is usable) and show the page it
    was started from again; 409 when it is not stopped."""
    _same_origin(request)
    await context.sessions.start(user, session_id, source=client_address(request))
    return _redirect(request, request.headers.get("hx-current-url") or f"/sessions/{session_id}")
