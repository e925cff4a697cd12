"""Share links in the UI (see :mod:`moorage.services.shares`).

For the people a session is shared with:

* ``/share/{token}``: what the link opens (whose session, which role, until when)
  and a form to open it, asking a display name when it is for anyone; a named
  link sends an anonymous visitor to sign in first. The form's POST sets the grant
  cookie (HttpOnly, SameSite=Lax) and goes to
* ``/shared/{session_id}``: the shared terminal, desktop or web app, with the role
  shown; ``static/shared.js`` stops reconnecting once
  ``/ui/shared/{session_id}/state`` says the grant no longer holds.

For the owner (an instructor or an admin), on the session's page:

* ``/ui/sessions/{id}/sharing``: the fragment listing the links and who is
  connected now, refreshed by htmx;
* ``/ui/sessions/{id}/shares`` (create, answers the link once),
  ``…/shares/{link_id}/revoke`` and ``…/connections/{id}/disconnect``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from moorage.api.deps import ContextDep
from moorage.errors import Unauthenticated
from moorage.models.template import TemplateKind
from moorage.models.user import User
from moorage.schemas._input import MAX_LEASE_MINUTES
from moorage.security.access import GatewayShared, Owner, Public
from moorage.security.auth import user_from_connection
from moorage.security.headers import NONCE_SCOPE_KEY, content_security_policy
from moorage.services.audit import client_address
from moorage.services.share_access import admit
from moorage.services.shares import grant_cookie_name, link_state, may_share
from moorage.web.pages import PageUser, _redirect, _same_origin, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
templates.env.globals["may_share"] = may_share  # the session page's sharing section


async def _signed_in(request: Request) -> User | None:
    """The signed-in user, if any (a share page is open to anonymous visitors)."""
    try:
        return await user_from_connection(request)
    except Unauthenticated:
        return None


# -- the people a session is shared with ----------------------------------------------


@router.get("/share/{token}", response_class=HTMLResponse, dependencies=[Public])
async def share_page(token: str, request: Request, context: ContextDep) -> Response:
    """What the link opens and the form to open it; 404 / 410 for a bad, revoked or
    expired link; a named link without a signed-in user goes to sign in first."""
    user = await _signed_in(request)
    try:
        invitation = await context.shares.describe(token, user)
    except Unauthenticated:
        return RedirectResponse(f"/login?next=/share/{token}", status_code=303)
    return templates.TemplateResponse(
        request,
        "share_open.html",
        {"user": user, "invitation": invitation, "token": token},
    )


@router.post("/share/{token}", dependencies=[Public])
async def share_open_submit(
    token: str,
    request: Request,
    context: ContextDep,
    display_name: Annotated[str | None, Form()] = None,
) -> Response:
    """Open the link: a grant cookie for this browser, then the shared session."""
    _same_origin(request)
    user = await _signed_in(request)
    opened = await context.shares.open(token, user, display_name, source=client_address(request))
    response = _redirect(request, f"/shared/{opened.session_id}")
    response.set_cookie(
        grant_cookie_name(opened.session_id),
        opened.cookie,
        max_age=opened.max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=context.settings.cookie_secure,
        path="/",
    )
    return response


@router.get("/shared/{session_id}", response_class=HTMLResponse, dependencies=[GatewayShared])
async def shared_session_page(session_id: str, request: Request, context: ContextDep) -> Response:
    """The shared terminal, desktop or app for a grant's holder (its owner or an admin
    goes to the session's own page). 404 / 410 when the grant does not hold."""
    admission = await admit(context.shares, context.sessions, request, session_id)
    if admission.guest is None:
        return RedirectResponse(f"/sessions/{session_id}", status_code=303)
    session = admission.session
    workspace = context.settings.workspace_origin(
        request.url.scheme, request.headers.get("host", ""), session.id
    )
    response = templates.TemplateResponse(
        request,
        "shared.html",
        {
            "user": admission.user,
            "session": session,
            "admission": admission,
            "guest": admission.guest,
            "app_url": context.settings.workspace_app_url(str(request.base_url), session.id)
            if session.template.kind == TemplateKind.HTTP.value
            else None,
        },
    )
    if session.template.kind == TemplateKind.HTTP.value:
        nonce = str(request.scope.get(NONCE_SCOPE_KEY, ""))
        frame_src = f"'self' {workspace}" if workspace else "'self'"
        response.headers["content-security-policy"] = content_security_policy(
            nonce, frame_src=frame_src
        )
    return response


@router.get("/ui/shared/{session_id}/state", dependencies=[GatewayShared])
async def shared_state(session_id: str, request: Request, context: ContextDep) -> Response:
    """Whether the grant still opens the session: 200 ``{"role", "expires_at",
    "state"}``, else the error (404, 410 ``share_ended``, 401) as JSON."""
    admission = await admit(context.shares, context.sessions, request, session_id)
    guest = admission.guest
    return JSONResponse(
        {
            "role": admission.role,
            "state": admission.session.state,
            "expires_at": (guest.expires_at if guest else admission.session.expires_at).isoformat(),
        }
    )


# -- the owner's side, on the session's page ------------------------------------------


async def _sharing(request: Request, context: ContextDep, user: User, session_id: str) -> Response:
    shares = context.shares
    links = await shares.list(user, session_id)
    names = await shares.usernames(links)
    now = shares.clock()
    return templates.TemplateResponse(
        request,
        "_sharing.html",
        {
            "session_id": session_id,
            "links": [(link, link_state(link, now)) for link in links],
            "names": names,
            "connections": await shares.connected(user, session_id),
        },
    )


@router.get("/ui/sessions/{session_id}/sharing", response_class=HTMLResponse, dependencies=[Owner])
async def sharing_fragment(
    session_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """The session's share links and who is connected now (404 to who may not share it)."""
    return await _sharing(request, context, user, session_id)


@router.post("/ui/sessions/{session_id}/shares", dependencies=[Owner])
async def share_create_submit(
    session_id: str,
    request: Request,
    user: PageUser,
    context: ContextDep,
    role: Annotated[str, Form()] = "observer",
    minutes: Annotated[int, Form(ge=1, le=MAX_LEASE_MINUTES)] = 60,
    users: Annotated[str, Form()] = "",
) -> Response:
    """Create a link from the form; answers the fragment showing it (this once)."""
    _same_origin(request)
    names = [n for n in users.replace(",", " ").split() if n]
    made = await context.shares.create(
        user,
        session_id,
        role=role,
        minutes=minutes,
        usernames=names,
        source=client_address(request),
    )
    url = f"{str(request.base_url).rstrip('/')}/share/{made.token}"
    response = templates.TemplateResponse(
        request, "_share_created.html", {"link": made.link, "url": url, "names": names}
    )
    response.headers["HX-Trigger"] = "sharing-changed"
    return response


@router.post("/ui/sessions/{session_id}/shares/{link_id}/revoke", dependencies=[Owner])
async def share_revoke_submit(
    session_id: str, link_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """Revoke a link: everyone connected with it is closed out at once."""
    _same_origin(request)
    await context.shares.revoke(user, session_id, link_id, source=client_address(request))
    return Response(status_code=204, headers={"HX-Trigger": "sharing-changed"})


@router.post(
    "/ui/sessions/{session_id}/connections/{connection_id}/disconnect", dependencies=[Owner]
)
async def disconnect_submit(
    session_id: str, connection_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """Disconnect one person (a guest's grant ends: they cannot come back with it)."""
    _same_origin(request)
    await context.shares.disconnect(user, session_id, connection_id, source=client_address(request))
    return Response(status_code=204, headers={"HX-Trigger": "sharing-changed"})
