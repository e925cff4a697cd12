"""Workshops in the UI, for their participants (see :mod:`moorage.services.workshops`).

* ``/join?code=…`` (the login page's code field) goes to
* ``/join/{code}``: before the start a countdown (``static/join.js`` reloads the page
  at the start), after the end "this workshop has ended"; while it is open, a
  signed-in participant goes straight to their workspace (the same one when they
  come back), a visitor of an anonymous workshop gives a display name (the form
  posts to ``/join/{code}``, which signs them in as a temporary user), and of any
  other workshop signs in first. Codes are throttled as in the API.
* ``/ui/sessions/{id}/workshop``: the workshop banner on the participant's session
  page (title, the instructor's latest broadcast, when it ends), polled by htmx every
  few seconds; empty, and no longer polled, for a session that is not a seat's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from moorage.api.deps import ContextDep
from moorage.api.deps import workshop_service as service_of
from moorage.errors import Unauthenticated
from moorage.models.user import User
from moorage.models.workshop import WorkshopState
from moorage.security.access import Owner, Public
from moorage.security.auth import set_login_cookie, user_from_connection
from moorage.services.audit import client_address
from moorage.services.workshops import workshop_state
from moorage.services.workshops.codes import normalize_code
from moorage.web.pages import PageUser, _redirect, _same_origin, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
BANNER_POLL_SECONDS = 4


async def _signed_in(request: Request) -> User | None:
    try:
        return await user_from_connection(request)
    except Unauthenticated:
        return None


@router.get("/join", dependencies=[Public])
async def join_by_code(code: str = "") -> Response:
    """The login page's "join a workshop" field: to ``/join/<code>``."""
    cleaned = normalize_code(code)
    return RedirectResponse(f"/join/{cleaned}" if cleaned else "/login", status_code=303)


@router.get("/join/{code}", response_class=HTMLResponse, dependencies=[Public])
async def join_page(code: str, request: Request, context: ContextDep) -> Response:
    """The join link: countdown, ended, a display-name form, or the workspace itself."""
    service = service_of(context)
    address = client_address(request) or "unknown"
    workshop = await service.find_by_code(code, address=address)
    state = workshop_state(workshop, service.clock())
    user = await _signed_in(request)
    page = {"workshop": workshop, "state": state.value, "user": user, "code": workshop.join_code}
    if state == WorkshopState.ENDED:
        return templates.TemplateResponse(request, "join.html", page, status_code=410)
    if state == WorkshopState.SCHEDULED:
        return templates.TemplateResponse(request, "join.html", page)
    if user is None or (user.org_id != workshop.org_id and workshop.anonymous):
        if workshop.anonymous:
            return templates.TemplateResponse(request, "join.html", page)
        return RedirectResponse(f"/login?next=/join/{workshop.join_code}", status_code=303)
    joined = await service.join(
        workshop.join_code, user, address=address, source=client_address(request)
    )
    return RedirectResponse(f"/sessions/{joined.session.id}", status_code=303)


@router.post("/join/{code}", dependencies=[Public])
async def join_submit(
    code: str,
    request: Request,
    context: ContextDep,
    display_name: Annotated[str | None, Form()] = None,
) -> Response:
    """Join with the display name given (an anonymous workshop): sign in as the
    temporary user made for it, then the workspace."""
    _same_origin(request)
    user = await _signed_in(request)
    joined = await service_of(context).join(
        code,
        user,
        display_name,
        address=client_address(request) or "unknown",
        source=client_address(request),
    )
    response = _redirect(request, f"/sessions/{joined.session.id}")
    if joined.login_token is not None:
        set_login_cookie(
            response,
            joined.login_token,
            max_age_seconds=joined.login_seconds,
            secure=context.settings.cookie_secure,
        )
    return response


@router.get("/ui/sessions/{session_id}/workshop", response_class=HTMLResponse, dependencies=[Owner])
async def workshop_banner(
    session_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """The workshop banner of a seat's session (its participant only)."""
    service = service_of(context)
    workshop = await service.seat_of_session(user, session_id)
    state = workshop_state(workshop, service.clock()).value if workshop is not None else None
    return templates.TemplateResponse(
        request,
        "_workshop_banner.html",
        {
            "workshop": workshop,
            "state": state,
            "session_id": session_id,
            "poll_seconds": BANNER_POLL_SECONDS,
        },
    )
