"""The Winux API (seed ``000_*``): temporary RDP desktops, deleted after N minutes.

A Winux session is a Moorage session of the template ``MOORAGE_COMPAT_WINUX_TEMPLATE``
(default ``rdp-desktop``). Winux's README names its routes and, in its notes,
a session's fields (a container id, an IP, port 3389, a lifetime in minutes);
it gives no error shape, so errors are Moorage's own: ``{"error": {"code",
"message", "field"?}}`` with Moorage's status code.

==========================================  ====================================
Winux                                       Moorage
==========================================  ====================================
``GET /api/winux/health``                   ``{"status": "ok", "service":
                                            "winux", "template"}`` (public)
``GET /api/winux/sessions``                 the caller's live sessions of the
                                            template: ``{"sessions", "count"}``
``POST /api/winux/sessions``                launch for ``duration_minutes``
  ``{"duration_minutes": 30}``              (default: the template's); 201 with
                                            the session once RDP answers
``GET /api/winux/sessions/<id>``            one session (the caller's)
``DELETE /api/winux/sessions/<id>``         end it now: ``{"deleted": true,
                                            "session"}``
``POST /api/winux/cleanup``                 operators: one reconcile pass now
                                            (expired sessions ended, orphan
                                            containers removed): ``{"removed",
                                            "sessions"}``
==========================================  ====================================

A session: ``{"id", "container_id", "ip", "port", "username", "password",
"created_at", "expires_at", "duration_minutes", "remaining_seconds", "status",
"template", "rdp"}``: ``ip`` and ``port`` are where an RDP client connects
(``MOORAGE_PUBLIC_HOST`` and the published port of the session's 3389),
``username``/``password`` its account (the password for its owner while it
lives), ``status`` Moorage's state, ``rdp`` the ``xfreerdp`` command. Times are
ISO 8601 UTC. The seed's static web client calls these from its own origin:
list it in ``MOORAGE_COMPAT_CORS_ORIGINS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import select

from moorage.api.compat._auth import Compat, compat_user
from moorage.api.deps import ContextDep, DbDep, SessionServiceDep
from moorage.context import Context
from moorage.db.base import utcnow
from moorage.models.lease import LIVE_STATES, LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.user import Role, User
from moorage.schemas._input import InputModel, LeaseMinutes
from moorage.security.access import Public
from moorage.services.audit import audit, client_address
from moorage.services.session_lists import search_sessions

__all__ = ["PATHS", "PREFIX", "router"]

ROUTER = "winux"
PREFIX = "/api/winux"
PATHS = (PREFIX,)
"""Where CORS applies (:func:`moorage.api.compat.compat_paths`)."""

router = APIRouter(prefix=PREFIX, tags=["compat: winux"])


class WinuxSessionCreate(InputModel):
    """``POST /api/winux/sessions``, as Winux's web client sends it."""

    duration_minutes: LeaseMinutes | None = Field(
        None, description="Lifetime in minutes; default: the template's (Winux: 30)."
    )


def session_of(
    session: WorkspaceSession, viewer: User, context: Context, now: datetime
) -> dict[str, Any]:
    """A session as Winux shows it (see the module docstring)."""
    host = context.settings.public_host
    connection = context.sessions.connection_of(session, viewer, host)
    port = connection.port if connection else None
    if port is None and session.ports:
        port = next(iter(session.ports.values()))
    lifetime = session.expires_at - session.starts_at
    return {
        "id": session.id,
        "container_id": session.container_id,
        "ip": host,
        "port": port,
        "username": connection.username if connection else session.account,
        "password": connection.password if connection else None,
        "rdp": connection.command if connection else None,
        "created_at": session.created_at.isoformat(),
        "expires_at": session.expires_at.isoformat(),
        "duration_minutes": round(lifetime.total_seconds() / 60),
        "remaining_seconds": max(0, int((session.expires_at - now).total_seconds())),
        "status": session.state,
        "template": session.template.name,
    }


async def _live_ids(context: Context, org_id: str) -> dict[str, str]:
    """``{session id: owner's username}`` of the org's live sessions."""
    async with context.sessionmaker() as db:
        rows = await db.scalars(
            select(WorkspaceSession).where(
                WorkspaceSession.org_id == org_id, WorkspaceSession.state.in_(LIVE_STATES)
            )
        )
        return {session.id: session.user.username for session in rows}


@router.get("/health", dependencies=[Public])
async def health(context: ContextDep) -> dict[str, str]:
    """``{"status": "ok", "service": "winux", "template"}`` while the process answers."""
    return {"status": "ok", "service": "winux", "template": context.settings.compat_winux_template}


@router.get("/sessions", dependencies=[Compat(ROUTER, Role.VIEWER)])
async def list_sessions(db: DbDep, context: ContextDep, user: User = compat_user) -> dict[str, Any]:
    """The caller's live sessions of the Winux template, newest first."""
    live = await search_sessions(
        db, user, template=context.settings.compat_winux_template, states=LIVE_STATES
    )
    now = utcnow()
    sessions = [session_of(s, user, context, now) for s in live]
    return {"sessions": sessions, "count": len(sessions)}


@router.post("/sessions", status_code=201, dependencies=[Compat(ROUTER, Role.MEMBER)])
async def create_session(
    body: WinuxSessionCreate,
    request: Request,
    sessions: SessionServiceDep,
    context: ContextDep,
    user: User = compat_user,
) -> JSONResponse:
    """Launch a desktop for ``duration_minutes``; 201 with the session once its RDP
    port answers. Errors as ``POST /api/v1/sessions``: 404 the template does not
    exist (set ``MOORAGE_COMPAT_WINUX_TEMPLATE``), 422 a duration past the
    template's maximum (named), 429 over the per-user limit, 503 Docker."""
    session = await sessions.launch(
        user,
        context.settings.compat_winux_template,
        duration_minutes=body.duration_minutes,
        source=client_address(request),
    )
    return JSONResponse(session_of(session, user, context, utcnow()), status_code=201)


@router.get("/sessions/{session_id}", dependencies=[Compat(ROUTER, Role.VIEWER)])
async def get_session(
    session_id: str, sessions: SessionServiceDep, context: ContextDep, user: User = compat_user
) -> dict[str, Any]:
    """One session; 404 when unknown or another user's (admins see everyone's)."""
    session = await sessions.get(user, session_id)
    return session_of(session, user, context, utcnow())


@router.delete("/sessions/{session_id}", dependencies=[Compat(ROUTER, Role.VIEWER)])
async def delete_session(
    session_id: str,
    request: Request,
    sessions: SessionServiceDep,
    context: ContextDep,
    user: User = compat_user,
) -> dict[str, Any]:
    """End the session now (its container is removed): ``{"deleted": true,
    "session"}``; 404 when unknown or another user's. Idempotent."""
    session = await sessions.release(user, session_id, source=client_address(request))
    return {"deleted": True, "session": session_of(session, user, context, utcnow())}


@router.post("/cleanup", dependencies=[Compat(ROUTER, Role.OPERATOR)])
async def cleanup(
    request: Request, context: ContextDep, user: User = compat_user
) -> dict[str, Any]:
    """Operators: one reconcile pass now (:meth:`Reconciler.pass_now
    <moorage.reconciler.loop.Reconciler.pass_now>`): sessions past their deadline
    are ended and orphan containers removed. Where this process does not run the
    leading reconciler, the org's expired sessions are ended here and the leader
    does the rest on its next pass. ``{"removed": N, "sessions": [{"id",
    "owner"}], "reconciler": "pass" | "expired_only"}``: the org's sessions that
    ended meanwhile. Audited ``session.cleanup``."""
    before = await _live_ids(context, user.org_id)
    reconciler = context.reconciler
    ran = reconciler is not None and await reconciler.pass_now()
    if not ran:
        now = utcnow()
        async with context.sessionmaker() as db:
            due = list(
                await db.scalars(
                    select(WorkspaceSession.id).where(
                        WorkspaceSession.org_id == user.org_id,
                        WorkspaceSession.state == LeaseState.READY.value,
                        WorkspaceSession.expires_at <= now,
                    )
                )
            )
        for session_id in due:
            await context.sessions.release_by_id(session_id, reason="expired")
    after = await _live_ids(context, user.org_id)
    removed = [{"id": i, "owner": owner} for i, owner in before.items() if i not in after]
    await audit(
        context.sessionmaker,
        request,
        user,
        "session.cleanup",
        "session",
        "*",
        detail=str(len(removed)),
        source=client_address(request),
    )
    return {
        "removed": len(removed),
        "sessions": removed,
        "reconciler": "pass" if ran else "expired_only",
    }
