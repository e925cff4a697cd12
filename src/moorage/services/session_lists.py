"""Sessions as an overview shows them: filtered lists for the admins' Sessions page
and the API, the count of other people's live sessions for a dashboard, and the
sessions behind Docker containers for the containers page.

Who may list everyone's sessions is the session kind's
:class:`~moorage.services.leases.Visibility` (admins today). An overview for
instructors (their workshops' sessions) would narrow the query here, in
:func:`search_sessions`, from the same visibility, so the page and the API keep
asking one function.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import InvalidInput
from moorage.models.lease import LIVE_STATES, LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.services.sessions import SessionService

__all__ = [
    "STATE_CHOICES",
    "live_count_of_others",
    "search_sessions",
    "states_named",
    "workspaces_by_id",
]

ENDED_STATES = (LeaseState.RELEASED.value, LeaseState.FAILED.value)
STATE_CHOICES = ("live", *(state.value for state in LeaseState), "ended", "any")
"""The names a state filter takes: ``live`` (pending to releasing), one state,
``ended`` (released or failed), or ``any``."""
MAX_ROWS = 500


def states_named(name: str | None) -> tuple[str, ...] | None:
    """The lease states a state filter means (see :data:`STATE_CHOICES`); None for
    ``any``; blank is ``live``.

    Raises:
        InvalidInput: another name (field ``state``), listing the choices.
    """
    name = (name or "live").strip().lower()
    if name == "live":
        return LIVE_STATES
    if name == "ended":
        return ENDED_STATES
    if name == "any":
        return None
    if name in STATE_CHOICES:
        return (name,)
    raise InvalidInput(
        f"state must be one of {', '.join(STATE_CHOICES)}, not {name!r}", field="state"
    )


async def search_sessions(
    db: AsyncSession,
    user: User,
    *,
    everyone: bool = False,
    owner: str | None = None,
    template: str | None = None,
    states: Collection[str] | None = None,
    limit: int = MAX_ROWS,
) -> list[WorkspaceSession]:
    """Sessions of ``user``'s org, newest first, at most ``limit`` (≤ 500): the
    caller's own, or with ``everyone`` (or an ``owner`` other than the caller)
    everyone's; narrowed to the ``owner``'s username, the ``template``'s name and
    ``states`` when given (an unknown name matches nothing).

    Raises:
        Forbidden: everyone's sessions asked by a user the session visibility does
            not let list them all (below admin).
        InvalidInput: a NUL character in ``owner`` or ``template`` (PostgreSQL
            refuses it in text).
    """
    for field, value in (("owner", owner), ("template", template)):
        if value and "\x00" in value:
            raise InvalidInput(
                "%(field)s must not contain a NUL character", params={"field": field}, field=field
            )
    query = select(WorkspaceSession).where(WorkspaceSession.org_id == user.org_id)
    if everyone or (owner and owner != user.username):
        SessionService.visibility.check_list_all(user)
    else:
        query = query.where(WorkspaceSession.user_id == user.id)
    if owner:
        query = query.where(
            WorkspaceSession.user_id.in_(
                select(User.id).where(User.org_id == user.org_id, User.username == owner)
            )
        )
    if template:
        query = query.where(
            WorkspaceSession.template_id.in_(
                select(Template.id).where(Template.org_id == user.org_id, Template.name == template)
            )
        )
    if states is not None:
        query = query.where(WorkspaceSession.state.in_(list(states)))
    query = query.order_by(WorkspaceSession.created_at.desc())
    return list(await db.scalars(query.limit(max(1, min(limit, MAX_ROWS)))))


async def live_count_of_others(db: AsyncSession, user: User) -> int:
    """How many live sessions of ``user``'s org others hold (for a dashboard line
    pointing to the overview); 0 for a user who may not list them all."""
    if not SessionService.visibility.may_list_all(user):
        return 0
    count = await db.scalar(
        select(func.count())
        .select_from(WorkspaceSession)
        .where(
            WorkspaceSession.org_id == user.org_id,
            WorkspaceSession.user_id != user.id,
            WorkspaceSession.state.in_(LIVE_STATES),
        )
    )
    return count or 0


async def workspaces_by_id(
    db: AsyncSession, user: User, session_ids: Collection[str]
) -> dict[str, WorkspaceSession]:
    """The sessions of ``user``'s org with these ids (those of Docker containers
    labelled ``moorage.session``), in one query, by id; ids of no such session are
    left out. For the Docker pages: an operator sees whose workspace a container is
    and until when, as its labels already tell.

    Raises:
        Forbidden: ``user`` is below operator.
    """
    require_role(user, Role.OPERATOR)
    ids = sorted({i for i in session_ids if i})
    if not ids:
        return {}
    rows = await db.scalars(
        select(WorkspaceSession).where(
            WorkspaceSession.org_id == user.org_id, WorkspaceSession.id.in_(ids)
        )
    )
    return {row.id: row for row in rows.unique()}
