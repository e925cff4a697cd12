"""Sessions: launch, list, show, extend, end; the terminal websocket."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, WebSocket
from starlette.datastructures import URL

from moorage.api.deps import ContextDep, CurrentUser, SessionServiceDep
from moorage.gateway.terminal import serve_terminal
from moorage.models.session import WorkspaceSession
from moorage.schemas.session import SessionCreate, SessionExtend, SessionPublic, SessionUrls

router = APIRouter(prefix="/sessions", tags=["sessions"])


def session_public(session: WorkspaceSession, base_url: URL) -> SessionPublic:
    """The API view of a session; URLs are absolute, built from ``base_url``."""
    ws_scheme = "wss" if base_url.scheme == "https" else "ws"
    root = str(base_url).rstrip("/")
    ws_root = str(base_url.replace(scheme=ws_scheme)).rstrip("/")
    template = session.template
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
        urls=SessionUrls(
            page=f"{root}/sessions/{session.id}",
            terminal=f"{ws_root}/api/v1/sessions/{session.id}/terminal",
        ),
    )


@router.post("", status_code=201, response_model=SessionPublic)
async def launch_session(
    body: SessionCreate, request: Request, user: CurrentUser, sessions: SessionServiceDep
):
    """Launch a session; answers once its container is running and usable.

    Errors: 404 unknown template, 422 bad duration (names the maximum), 429 over
    the per-user limit (names it), 503 Docker unreachable.
    """
    session = await sessions.launch(
        user,
        body.template,
        duration_minutes=body.duration_minutes,
        duration_seconds=body.duration_seconds,
    )
    return session_public(session, request.base_url)


@router.get("", response_model=list[SessionPublic])
async def list_sessions(
    request: Request,
    user: CurrentUser,
    sessions: SessionServiceDep,
    all: bool = False,
    live: bool = False,
):
    """The caller's sessions, newest first. ``?all=true``: everyone's (admins).
    ``?live=true``: only sessions not yet released or failed."""
    rows = await sessions.list(user, all_users=all, live_only=live)
    return [session_public(row, request.base_url) for row in rows]


@router.get("/{session_id}", response_model=SessionPublic)
async def get_session(
    session_id: str, request: Request, user: CurrentUser, sessions: SessionServiceDep
):
    return session_public(await sessions.get(user, session_id), request.base_url)


@router.post("/{session_id}/extend", response_model=SessionPublic)
async def extend_session(
    session_id: str,
    body: SessionExtend,
    request: Request,
    user: CurrentUser,
    sessions: SessionServiceDep,
):
    """Add ``minutes`` to the deadline; 422 past the template's maximum, naming what is left."""
    session = await sessions.extend(user, session_id, body.minutes)
    return session_public(session, request.base_url)


@router.delete("/{session_id}", response_model=SessionPublic)
async def end_session(
    session_id: str, request: Request, user: CurrentUser, sessions: SessionServiceDep
):
    """End the session now: the container is removed and the state becomes ``released``
    (``releasing`` while Docker is unreachable; the reconciler retries)."""
    session = await sessions.release(user, session_id)
    return session_public(session, request.base_url)


@router.websocket("/{session_id}/terminal")
async def session_terminal(websocket: WebSocket, session_id: str, context: ContextDep) -> None:
    """A shell with a TTY in the session's container.

    Binary frames carry terminal bytes both ways; a text frame from the client
    is a JSON control message ``{"type": "resize", "cols": C, "rows": R}``.
    Close codes: 4401 not authenticated, 4404 no such session (or not yours),
    4409 session not ready, 1011 runtime failure.
    """
    await serve_terminal(websocket, context, session_id)
