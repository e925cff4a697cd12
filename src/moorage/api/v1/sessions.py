"""Sessions: launch, list, show, extend, stop, start, end, the ``.rdp`` file.

The session's websockets (terminal, vnc, guacamole) are served by
:mod:`moorage.gateway.router` under the same ``/api/v1/sessions/{id}/`` prefix.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.datastructures import URL

from moorage.api.deps import ContextDep, CurrentUser, DbDep, SessionServiceDep
from moorage.api.pagination import Page
from moorage.context import Context
from moorage.errors import NotFound
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import TemplateKind
from moorage.models.user import Role, User
from moorage.schemas.session import (
    SessionConnection,
    SessionCreate,
    SessionExtend,
    SessionPublic,
    SessionUrls,
)
from moorage.security.access import Allow, Owner
from moorage.services.audit import client_address
from moorage.services.kinds import kind_for
from moorage.services.session_end import end_reason_of
from moorage.services.session_lists import search_sessions, states_named

router = APIRouter(prefix="/sessions", tags=["sessions"])


def session_public(
    session: WorkspaceSession,
    base_url: URL,
    viewer: User | None = None,
    context: Context | None = None,
) -> SessionPublic:
    """The API view of a session; URLs are absolute, built from ``base_url``. The
    ssh password is included for its owner (``viewer``) while the session lives."""
    ws_scheme = "wss" if base_url.scheme == "https" else "ws"
    root = str(base_url).rstrip("/")
    ws_root = str(base_url.replace(scheme=ws_scheme)).rstrip("/")
    template = session.template
    paths = kind_for(template.kind).paths(session.id)
    return SessionPublic(
        id=session.id,
        state=session.state,
        template=template.name,
        template_display_name=template.display_name,
        kind=template.kind,
        owner=session.user.username,
        environment=session.environment.name,
        created_at=session.created_at,
        starts_at=session.starts_at,
        expires_at=session.expires_at,
        released_at=session.released_at,
        extensions=session.extensions,
        max_expires_at=session.starts_at + timedelta(minutes=template.max_duration_minutes),
        error=session.error,
        **_idle_and_end(session, context),
        recorded=bool(session.recorded),  # None on a row not yet written
        connection=_connection(session, viewer, context),
        urls=SessionUrls(
            page=f"{root}/sessions/{session.id}",
            terminal=f"{ws_root}/api/v1/sessions/{session.id}/terminal",
            app=(
                context.settings.workspace_app_url(root, session.id)
                if context
                else f"{root}{paths.app}"
            )
            if paths.app
            else None,
            desktop=f"{ws_root}{paths.desktop}" if paths.desktop else None,
        ),
    )


def _idle_and_end(session: WorkspaceSession, context: Context | None) -> dict[str, Any]:
    """``idle_since``, ``idle_timeout_seconds`` and ``idle_expires_at`` while the
    session is ready; ``end_reason`` once it is ending or has ended."""
    fields: dict[str, Any] = {"end_reason": end_reason_of(session)}
    if session.state != LeaseState.READY.value:
        return fields
    since = (
        context.sessions.activity.idle_since(session)
        if context
        else max(session.starts_at, session.last_activity_at or session.starts_at)
    )
    timeout = session.template.idle_timeout_seconds
    fields.update(
        idle_since=since,
        idle_timeout_seconds=timeout,
        idle_expires_at=since + timedelta(seconds=timeout) if timeout else None,
    )
    return fields


def _connection(
    session: WorkspaceSession, viewer: User | None, context: Context | None
) -> SessionConnection | None:
    """Native-client details (see :meth:`SessionService.connection_of`); None without
    a context."""
    if context is None:
        return None
    return context.sessions.connection_of(session, viewer, context.settings.public_host)


def rdp_file(connection: SessionConnection) -> str:
    """A ``.rdp`` connection file (the Remote Desktop Connection format: one
    ``name:type:value`` per line, CRLF line ends)."""
    lines = [
        f"full address:s:{connection.host}:{connection.port}",
        f"username:s:{connection.username}",
        "prompt for credentials:i:1",
        "screen mode id:i:1",
        "authentication level:i:0",
    ]
    return "\r\n".join(lines) + "\r\n"


@router.post("", status_code=201, response_model=SessionPublic, dependencies=[Allow(Role.MEMBER)])
async def launch_session(
    body: SessionCreate,
    request: Request,
    user: CurrentUser,
    sessions: SessionServiceDep,
    context: ContextDep,
):
    """Launch a session; answers once its container is running and usable.

    Errors: 403 below the member role, 404 unknown template, 422 bad duration (names
    the maximum), 429 over the per-user limit (names it), 503 Docker unreachable.
    """
    session = await sessions.launch(
        user,
        body.template,
        duration_minutes=body.duration_minutes,
        duration_seconds=body.duration_seconds,
        source=client_address(request),
    )
    return session_public(session, request.base_url, user, context)


@router.get("", response_model=list[SessionPublic], dependencies=[Allow(Role.VIEWER)])
async def list_sessions(
    request: Request,
    user: CurrentUser,
    db: DbDep,
    context: ContextDep,
    all: bool = False,
    live: bool = False,
    owner: str | None = None,
    template: str | None = None,
    state: str | None = None,
    *,
    page: Page,
    response: Response,
):
    """The caller's sessions, newest first (at most 500). ``?all=true``: everyone's in
    the org (admins; 403 otherwise). ``?owner=alice``: that user's (another user's:
    admins). ``?template=debian-shell``: of that template. ``?state=``: ``live``,
    ``ended``, ``any`` or one state (``ready`` …; 422 otherwise); ``?live=true`` is
    ``state=live``. Pages: ``limit`` and ``cursor``, the next page's URL in ``Link``."""
    states = states_named(state) if state else (states_named("live") if live else None)
    rows = await search_sessions(
        db, user, everyone=all, owner=owner, template=template, states=states
    )
    rows = page.apply(request, response, rows)
    return [session_public(row, request.base_url, user, context) for row in rows]


@router.get("/{session_id}", response_model=SessionPublic, dependencies=[Owner])
async def get_session(
    session_id: str,
    request: Request,
    user: CurrentUser,
    sessions: SessionServiceDep,
    context: ContextDep,
):
    """One session: the caller's own, or anyone's for admins; 404 otherwise."""
    return session_public(await sessions.get(user, session_id), request.base_url, user, context)


@router.post("/{session_id}/extend", response_model=SessionPublic, dependencies=[Owner])
async def extend_session(
    session_id: str,
    body: SessionExtend,
    request: Request,
    user: CurrentUser,
    sessions: SessionServiceDep,
    context: ContextDep,
):
    """Add ``minutes`` to the deadline; 422 past the template's maximum, naming what is left."""
    session = await sessions.extend(user, session_id, body.minutes, source=client_address(request))
    return session_public(session, request.base_url, user, context)


@router.post("/{session_id}/stop", response_model=SessionPublic, dependencies=[Owner])
async def stop_session(
    session_id: str,
    request: Request,
    user: CurrentUser,
    sessions: SessionServiceDep,
    context: ContextDep,
):
    """Stop the session's container, keeping its disk; the state becomes ``stopped`` and
    the deadline still runs. 409 when it is not ``ready``; 503 Docker unreachable."""
    session = await sessions.stop(user, session_id, source=client_address(request))
    return session_public(session, request.base_url, user, context)


@router.post("/{session_id}/start", response_model=SessionPublic, dependencies=[Owner])
async def start_session(
    session_id: str,
    request: Request,
    user: CurrentUser,
    sessions: SessionServiceDep,
    context: ContextDep,
):
    """Start a stopped session again; answers once it is usable (``ready``, same
    account, secret and disk). 409 when it is not ``stopped``; 503 when Docker is
    unreachable or it did not become usable (it stays ``stopped``)."""
    session = await sessions.start(user, session_id, source=client_address(request))
    return session_public(session, request.base_url, user, context)


@router.delete("/{session_id}", response_model=SessionPublic, dependencies=[Owner])
async def end_session(
    session_id: str,
    request: Request,
    user: CurrentUser,
    sessions: SessionServiceDep,
    context: ContextDep,
):
    """End the session now: the container is removed and the state becomes ``released``
    (``releasing`` while Docker is unreachable; the reconciler retries)."""
    session = await sessions.release(user, session_id, source=client_address(request))
    return session_public(session, request.base_url, user, context)


@router.post("/{session_id}/keep", status_code=204, dependencies=[Owner])
async def keep_session(
    session_id: str, request: Request, user: CurrentUser, sessions: SessionServiceDep
) -> None:
    """ "Keep it": count now as activity, so the idle timeout starts over. 404 not
    yours, 409 not ready."""
    await sessions.keep(user, session_id, source=client_address(request))


@router.get("/{session_id}/rdp", response_class=PlainTextResponse, dependencies=[Owner])
async def session_rdp_file(session_id: str, user: CurrentUser, context: ContextDep):
    """A ``.rdp`` file for the session (rdp kind), to open in a native client."""
    session = await context.sessions.get(user, session_id)
    connection = _connection(session, user, context)
    if connection is None or session.template.kind != TemplateKind.RDP.value:  # the file's format
        raise NotFound(
            "session %(id)s has no RDP desktop", params={"id": session_id}, code="session_not_found"
        )
    return PlainTextResponse(
        rdp_file(connection),
        media_type="application/x-rdp",
        headers={"Content-Disposition": f'attachment; filename="moorage-{session_id[:8]}.rdp"'},
    )
