"""UI routes. Each page is a full document; htmx requests get the fragment
(``HX-Request`` header) from the same view, as NetBox does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.api.event_stream import event_stream
from moorage.context import Context
from moorage.errors import InvalidInput, MoorageError, RuntimeUnavailable, Unauthenticated
from moorage.models.lease import LIVE_STATES
from moorage.models.user import Role
from moorage.schemas._input import MAX_LEASE_MINUTES
from moorage.security.access import Allow, Owner, Public
from moorage.security.auth import (
    COOKIE_NAME,
    CurrentUser,
    credential_of,
    set_login_cookie,
)
from moorage.security.headers import add_script_nonces
from moorage.security.origin import require_same_origin
from moorage.security.rbac import has_role
from moorage.security.throttle import throttled
from moorage.services.audit import client_address
from moorage.services.catalog import catalog as catalog_entries
from moorage.services.oidc_providers import enabled_providers
from moorage.services.oidc_sign_in import provider_of
from moorage.services.session_lists import live_count_of_others
from moorage.services.users import sign_in, sign_out
from moorage.web.formatting import add_formatting_filters
from moorage.web.session_confirmations import GLOBALS as SESSION_CONFIRMATIONS
from moorage.web.session_view import session_view
from moorage.web.translation import install_translations

__all__ = ["PageUser", "login_form", "render_error_page", "router"]

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
templates.env.globals["has_role"] = has_role
templates.env.globals["Role"] = Role
install_translations(templates.env)
templates.env.globals.update(SESSION_CONFIRMATIONS)
add_script_nonces(templates.env)
add_formatting_filters(templates.env)

router = APIRouter(include_in_schema=False)

DURATION_CHOICES_MINUTES = (15, 30, 60, 120, 240, 480)


def render_error_page(request: Request, error: MoorageError) -> Response:
    """An error as a page, or as an alert fragment for htmx requests (htmx swaps no
    4xx/5xx body: moorage.js reads the fragment's message, code and field and shows
    it in the page's alert area, or next to the form field it names)."""
    name = "_alert.html" if request.headers.get("hx-request") else "error.html"
    return templates.TemplateResponse(
        request,
        name,
        {"error": error, "user": getattr(request.state, "user", None)},
        status_code=error.status_code,
    )


PageUser = CurrentUser
"""The logged-in user of a page: the API's own authentication (an anonymous visitor
gets Unauthenticated, which the error handler turns into a redirect to /login).
Pages that need a role use the API's guards (``AdminUser``, ``OperatorUser``)."""

_same_origin = require_same_origin


def _redirect(request: Request, url: str) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _safe_next(target: str | None) -> str:
    """``target`` when it is a path of this site, else ``/``: never another site's URL
    (``//host``, or ``/\\host``, which browsers read as ``//host``), no control
    characters."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 or ord(c) == 127 for c in target)
    ):
        return "/"
    return target


async def login_form(
    request: Request, context: Context, *, status_code: int = 200, **values: object
) -> Response:
    """The login page (``login.html``) with a button per enabled OpenID Connect
    provider and ``values`` (``next``, ``error`` …), answered with ``status_code``;
    not stored by the browser."""
    async with context.sessionmaker() as db:
        providers = await enabled_providers(db)
    values.setdefault("next", "/")
    page = templates.TemplateResponse(
        request,
        "login.html",
        {"signup": context.settings.signup_enabled, "providers": providers, **values},
        status_code=status_code,
    )
    page.headers["Cache-Control"] = "no-store"
    return page


def _invalid(exc: ValidationError, fields: Iterable[str]) -> InvalidInput:
    """The first error of a form's validation, naming its field. A check across
    fields (no location) names the field its message starts with, if one of ``fields``."""
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"])
    if field:
        return InvalidInput(f"{field}: {error['msg']}", field=field)
    message = str(error["msg"]).removeprefix("Value error, ")
    named = message.split(" ", 1)[0]
    return InvalidInput(message, field=named if named in fields else "form")


# -- login ------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse, dependencies=[Public])
async def login_page(
    request: Request,
    context: ContextDep,
    next: str = "/",
    signed_up: bool = False,
    signed_out: str | None = None,
) -> Response:
    """The login form; ``next`` is where to go after logging in (a local path). It
    links the sign-up page when self-registration is on, and offers a sign-in with
    each enabled OpenID Connect provider. ``signed_out``: the provider a person just
    left Moorage from, whose own sign-out is offered when it has one."""
    return await login_form(
        request,
        context,
        next=_safe_next(next),
        signed_up=signed_up,
        signed_out=signed_out if signed_out and len(signed_out) <= 64 else None,
    )


@router.post("/login", dependencies=[Public])
async def login_submit(
    request: Request,
    context: ContextDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
    code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Check the password (and the second factor of a user who has one), set the login
    cookie and go to ``next``; the form again with 401 when wrong. After a right
    password the form asks for the code, keeping the username and password in hidden
    fields of a page that is not stored (``Cache-Control: no-store``). Audited by the
    service."""
    _same_origin(request)
    ttl = timedelta(hours=context.settings.login_ttl_hours)
    try:
        async with throttled(request, username):
            signed_in, token = await sign_in(
                context.sessionmaker,
                username,
                password,
                ttl=ttl,
                keyring=context.keyring,
                code=code or None,
                source=client_address(request),
            )
    except (Unauthenticated, RuntimeUnavailable) as exc:  # the latter: a directory is down
        second_factor = exc.code in ("second_factor_required", "second_factor_invalid")
        return await login_form(
            request,
            context,
            status_code=exc.status_code,
            next=_safe_next(next),
            error=None if exc.code == "second_factor_required" else exc.localized_message(),
            username=username,
            second_factor=second_factor,
            password=password if second_factor else "",
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    if signed_in.locale:  # the account's language follows the person to this browser
        from moorage.web.language_pages import set_language_cookie

        set_language_cookie(response, signed_in.locale, secure=context.settings.cookie_secure)
    set_login_cookie(
        response,
        token,
        max_age_seconds=int(ttl.total_seconds()),
        secure=context.settings.cookie_secure,
    )
    return response


@router.post("/logout", dependencies=[Allow(Role.VIEWER)])
async def logout_submit(request: Request, db: WriteDbDep, user: PageUser) -> Response:
    """Revoke the login cookie's token (audited ``user.sign_out``), clear the cookie and
    go to /login; for a user of an OpenID Connect provider, the login page then offers
    the provider's own sign-out (``signed_out=<provider>``)."""
    _same_origin(request)
    await sign_out(db, user, credential_of(request), source=client_address(request))
    provider = await provider_of(db, user)
    await db.commit()
    target = f"/login?signed_out={provider.name}" if provider and provider.enabled else "/login"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


# -- dashboard and sessions -------------------------------------------------


@router.get("/", response_class=HTMLResponse, dependencies=[Allow(Role.VIEWER)])
async def dashboard(request: Request, user: PageUser, db: DbDep, context: ContextDep) -> Response:
    """The catalog the user may launch from and their live sessions (for admins, with
    how many others hold, linking the Sessions overview)."""
    catalog = await catalog_entries(db, user, context.drivers)
    sessions = await context.sessions.list(user, live_only=True)
    return templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "user": user,
            "catalog": catalog,
            "sessions": sessions,
            "others": await live_count_of_others(db, user),
            "durations": DURATION_CHOICES_MINUTES,
        },
    )


@router.get("/ui/sessions", response_class=HTMLResponse, dependencies=[Allow(Role.VIEWER)])
async def sessions_fragment(
    request: Request, user: PageUser, db: DbDep, context: ContextDep, all: bool = False
) -> Response:
    """The "my sessions" table, refreshed by htmx."""
    everyone = all and user.is_admin
    sessions = await context.sessions.list(user, all_users=everyone, live_only=True)
    others = 0 if everyone else await live_count_of_others(db, user)
    return templates.TemplateResponse(
        request,
        "_sessions.html",
        {"user": user, "sessions": sessions, "show_owner": everyone, "others": others},
    )


@router.get("/ui/sessions/events", dependencies=[Allow(Role.VIEWER)])
async def sessions_events(
    request: Request, user: PageUser, context: ContextDep, all: bool = False
) -> EventSourceResponse:
    """Server-sent events: a ``sessions`` event carrying the re-rendered "my sessions"
    table whenever it changes (htmx's SSE extension swaps it in). Changes made in
    this process arrive at once; others within ``REFRESH_SECONDS``."""
    everyone = all and user.is_admin
    fragment = templates.get_template("_sessions.html")

    async def render() -> str:
        sessions = await context.sessions.list(user, all_users=everyone, live_only=True)
        async with context.sessionmaker() as db:
            others = 0 if everyone else await live_count_of_others(db, user)
        return fragment.render(user=user, sessions=sessions, show_owner=everyone, others=others)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        last = None
        async with context.sessions.changes.subscribe() as changes:
            while True:
                html = await render()
                if html != last:
                    last = html
                    yield ServerSentEvent(html, event="sessions")
                await _next_change(changes, user.id, everyone)

    return event_stream(stream())


REFRESH_SECONDS = 10


async def _next_change(changes: asyncio.Queue[str], user_id: str, everyone: bool) -> None:
    """Wait for a change of ``user_id``'s sessions (anyone's when ``everyone``), at most
    :data:`REFRESH_SECONDS`."""
    deadline = asyncio.get_running_loop().time() + REFRESH_SECONDS
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(deadline):
            while (await changes.get()) != user_id and not everyone:
                pass


@router.post("/ui/sessions", dependencies=[Allow(Role.MEMBER)])
async def launch_submit(
    request: Request,
    user: PageUser,
    context: ContextDep,
    template: Annotated[str, Form()],
    duration_minutes: Annotated[int, Form(ge=1, le=MAX_LEASE_MINUTES)],
) -> Response:
    """Launch a session (members and above; the service's rules, limits and audit)
    and open its page."""
    _same_origin(request)
    session = await context.sessions.launch(
        user, template, duration_minutes=duration_minutes, source=client_address(request)
    )
    return _redirect(request, f"/sessions/{session.id}")


@router.get("/sessions/{session_id}", response_class=HTMLResponse, dependencies=[Owner])
async def session_page(
    session_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """One session: its terminal, desktop or app, deadline and connection details;
    once ended, when and why, and a form to launch its template again."""
    session = await context.sessions.get(user, session_id)
    host = context.settings.public_host
    return templates.TemplateResponse(
        request,
        "session.html",
        {
            "user": user,
            "session": session,
            "connection": context.sessions.connection_of(session, user, host),
            "guacd": bool(context.settings.guacd_address),
            "live": session.state in LIVE_STATES,
            **await session_view(request, context, user, session),
        },
    )


@router.post("/ui/sessions/{session_id}/extend", dependencies=[Owner])
async def extend_submit(
    session_id: str,
    request: Request,
    user: PageUser,
    context: ContextDep,
    minutes: Annotated[int, Form(ge=1, le=MAX_LEASE_MINUTES)] = 30,
) -> Response:
    """Add ``minutes`` to a session's deadline (within the template's maximum)."""
    _same_origin(request)
    await context.sessions.extend(user, session_id, minutes, source=client_address(request))
    return _redirect(request, request.headers.get("hx-current-url") or f"/sessions/{session_id}")


@router.post("/ui/sessions/{session_id}/end", dependencies=[Owner])
async def end_submit(
    session_id: str,
    request: Request,
    user: PageUser,
    context: ContextDep,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """End a session now and go to ``next`` (a local path: the admins' Sessions page
    sends its own), else show the page it was ended from again (the session's own
    page then says it ended)."""
    _same_origin(request)
    await context.sessions.release(user, session_id, source=client_address(request))
    if next is None:
        current = urlsplit(request.headers.get("hx-current-url") or "/")
        next = current.path + (f"?{current.query}" if current.query else "")
    return _redirect(request, _safe_next(next))
