"""What a session's pages show besides the session itself."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request

from moorage.context import Context
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import TemplateKind
from moorage.models.user import Role, User
from moorage.security.rbac import has_role
from moorage.services.session_end import SessionEnding, session_ending

__all__ = ["session_view"]


async def session_view(
    request: Request, context: Context, user: User, session: WorkspaceSession
) -> dict[str, object]:
    """What the session pages show besides the session: its latest possible end
    (``max_expires_at``), how it ended (``ending``, None while it lives), the app's
    URL (``app_url``, http kind) and whether ``user`` may launch its template again
    (``can_launch``); its recordings ``user`` may read (``recordings``) and, while it is
    ready with an idle timeout, when it ends unless something happens
    (``idle_expires_at``)."""
    template = session.template
    ending: SessionEnding | None = await session_ending(context.sessionmaker, session, user)
    idle_expires_at = None
    if session.state == LeaseState.READY.value and template.idle_timeout_seconds:
        idle_since = context.sessions.activity.idle_since(session)
        idle_expires_at = idle_since + timedelta(seconds=template.idle_timeout_seconds)
    return {
        "recordings": await context.recordings.list(user, session_id=session.id),
        "idle_expires_at": idle_expires_at,
        "max_expires_at": session.starts_at + timedelta(minutes=template.max_duration_minutes),
        "ending": ending,
        "app_url": context.settings.workspace_app_url(str(request.base_url), session.id)
        if template.kind == TemplateKind.HTTP.value
        else None,
        "can_launch": template.enabled and has_role(user, Role.MEMBER),
    }
