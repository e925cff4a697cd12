"""Quotas of groups and orgs, checked atomically when a lease is created.

A quota caps what the users of a scope hold *together*: a group's quota counts
the leases of all its members, the org's quota those of everyone in the org.
A user is held to the org's quota and to the quota of every group they are in.
The limits (:class:`~moorage.models.quota.QuotaColumns`):

* ``max_live_sessions`` — sessions in a live state (a stopped one counts:
  :data:`~moorage.models.lease.LIVE_STATES`);
* ``max_cpu_cores`` / ``max_memory_mb`` — the templates' limits summed over
  sessions that hold compute: live but not stopped (a stopped container holds
  no CPU or memory, :mod:`moorage.services.session_power`);
* ``max_reserved_machines`` — machines held by live reservations;
* ``max_lease_minutes`` — the longest one lease may last, extensions included.

Why the check is atomic: the lease-creating transaction first takes a row lock
on the org (``SELECT … FOR UPDATE`` on ``orgs``; SQLite's ``BEGIN IMMEDIATE``
already serialises writers), then counts, then inserts. Two launches of one
org under a quota therefore count one after the other, and the second sees the
first's row. The lock is the transaction's first statement, so MariaDB's
repeatable-read snapshot is taken after it. The scopes that apply are read
*before* that transaction (:func:`scopes_of`), so nothing is read earlier in it.
Orgs without any quota take no lock.

A refusal is :class:`~moorage.errors.QuotaExceeded` (429, code
``quota_exceeded``) whose message and details name the quota (``quota``: the
limit's field, ``scope``: ``org`` or ``group``, ``group``: its name,
``limit``, ``used``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from moorage.errors import QuotaExceeded
from moorage.models.group import Group, GroupMember
from moorage.models.lease import LIVE_STATES, LeaseState
from moorage.models.org import Org
from moorage.models.quota import QUOTA_FIELDS, OrgQuota, QuotaColumns
from moorage.models.reservation import Reservation
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import User

if TYPE_CHECKING:
    from moorage.services.leases.rules import LeaseRow

__all__ = [
    "COMPUTE_STATES",
    "QuotaScope",
    "check_extension",
    "check_lease_length",
    "check_reservation",
    "check_restart",
    "check_session",
    "lock",
    "scopes_of",
]

COMPUTE_STATES = tuple(s for s in LIVE_STATES if s != LeaseState.STOPPED.value)
"""Live states whose container holds CPU and memory (all but ``stopped``)."""


@dataclass(frozen=True)
class QuotaScope:
    """The limits of one org or group that apply to a user.

    Attributes:
        kind: ``"org"`` or ``"group"``.
        name: the org's or group's name.
        group_id: the group's id; None for the org.
        limits: ``{field: limit}`` of the limits that are set (see
            :data:`~moorage.models.quota.QUOTA_FIELDS`).
    """

    kind: str
    name: str
    group_id: str | None
    limits: dict[str, float]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


def _set_limits(row: QuotaColumns) -> dict[str, float]:
    return {f: v for f in QUOTA_FIELDS if (v := getattr(row, f)) is not None}


async def scopes_of(db: AsyncSession, user: User) -> list[QuotaScope]:
    """The quota scopes that hold ``user``: their org's, then their groups' (by
    name), each only when it sets at least one limit. Reads only; call it before
    the transaction that creates the lease."""
    scopes: list[QuotaScope] = []
    org_row = await db.get(OrgQuota, user.org_id)
    if org_row is not None and (limits := _set_limits(org_row)):
        org_name = await db.scalar(select(Org.name).where(Org.id == user.org_id))
        scopes.append(QuotaScope("org", org_name or user.org_id, None, limits))
    groups = await db.scalars(
        select(Group)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user.id)
        .order_by(Group.name)
    )
    for group in groups:
        if limits := _set_limits(group):
            scopes.append(QuotaScope("group", group.name, group.id, limits))
    return scopes


async def lock(db: AsyncSession, user: User, scopes: list[QuotaScope]) -> None:
    """Take the org's row lock when a quota holds ``user`` (nothing otherwise). Call
    it as the first statement of the lease-creating transaction when that
    transaction reads before its check (MariaDB's snapshot then follows the lock);
    :func:`check_session` and :func:`check_reservation` take it too (again is free)."""
    if scopes:
        await db.execute(select(Org.id).where(Org.id == user.org_id).with_for_update())


def _owned_by(
    column: InstrumentedAttribute[str],
    org_column: InstrumentedAttribute[str],
    user: User,
    scope: QuotaScope,
) -> ColumnElement[bool]:
    if scope.group_id is None:
        return org_column == user.org_id
    members = select(GroupMember.user_id).where(GroupMember.group_id == scope.group_id)
    return column.in_(members)


def _group_of(scope: QuotaScope) -> dict[str, Any]:
    """The error detail naming a group's quota (none for the org's)."""
    return {"group": scope.name} if scope.kind == "group" else {}


def _refuse(scope: QuotaScope, field: str, used: float, asked: float, what: str) -> QuotaExceeded:
    limit = scope.limits[field]
    shown = f"{limit:g}"
    return QuotaExceeded(
        f"the {field} quota of {scope.label} is {shown} {what}; {used:g} are held and this "
        f"needs {asked:g} more",
        quota=field,
        scope=scope.kind,
        **_group_of(scope),
        limit=limit,
        used=used,
    )


def check_lease_length(scopes: list[QuotaScope], minutes: float) -> None:
    """Refuse a lease lasting ``minutes`` (from its start) over a ``max_lease_minutes``.

    Raises:
        QuotaExceeded: naming the quota (429).
    """
    for scope in scopes:
        limit = scope.limits.get("max_lease_minutes")
        if limit is not None and minutes > limit:
            raise QuotaExceeded(
                f"the max_lease_minutes quota of {scope.label} is {limit:g} minutes; "
                f"this lease would last {minutes:g}",
                quota="max_lease_minutes",
                scope=scope.kind,
                **_group_of(scope),
                limit=limit,
            )


async def check_extension(db: AsyncSession, lease: LeaseRow, minutes: int) -> None:
    """Refuse extending ``lease`` by ``minutes`` past its owner's ``max_lease_minutes``
    (counted from its start). Inside the extending transaction.

    Raises:
        QuotaExceeded: naming the quota (429).
    """
    owner = await db.get(User, lease.user_id)
    if owner is None:
        return
    length = lease.expires_at - lease.starts_at + timedelta(minutes=max(minutes, 0))
    check_lease_length(await scopes_of(db, owner), length.total_seconds() / 60)


async def check_session(
    db: AsyncSession,
    user: User,
    scopes: list[QuotaScope],
    template: Template,
    duration: timedelta,
) -> None:
    """Inside the transaction that inserts ``user``'s new session of ``template``,
    as its first statements: lock the org (when a quota applies) and check every
    scope's session, CPU, memory and lease-length limits.

    Raises:
        QuotaExceeded: the first limit the new session would pass (429).
    """
    if not scopes:
        return
    await lock(db, user, scopes)
    check_lease_length(scopes, duration.total_seconds() / 60)
    for scope in scopes:
        owned = _owned_by(WorkspaceSession.user_id, WorkspaceSession.org_id, user, scope)
        if "max_live_sessions" in scope.limits:
            live = await db.scalar(
                select(func.count())
                .select_from(WorkspaceSession)
                .where(owned, WorkspaceSession.state.in_(LIVE_STATES))
            )
            if (live or 0) + 1 > scope.limits["max_live_sessions"]:
                raise _refuse(scope, "max_live_sessions", live or 0, 1, "live sessions")
    await _check_compute(db, user, scopes, template)


async def check_restart(
    db: AsyncSession, user: User, scopes: list[QuotaScope], template: Template
) -> None:
    """Inside the transaction that makes ``user``'s stopped session of ``template``
    ready again, as its first statements: lock the org (when a quota applies) and
    check the CPU and memory limits (a stopped session holds none, so starting it
    takes some again; it already counts as a live session).

    Raises:
        QuotaExceeded: the first limit the started session would pass (429).
    """
    if not scopes:
        return
    await lock(db, user, scopes)
    await _check_compute(db, user, scopes, template)


async def _check_compute(
    db: AsyncSession, user: User, scopes: list[QuotaScope], template: Template
) -> None:
    for scope in scopes:
        owned = _owned_by(WorkspaceSession.user_id, WorkspaceSession.org_id, user, scope)
        compute = {"max_cpu_cores": Template.cpu_limit, "max_memory_mb": Template.memory_limit_mb}
        for field, column in compute.items():
            if field not in scope.limits:
                continue
            held = await db.scalar(
                select(func.coalesce(func.sum(column), 0))
                .select_from(WorkspaceSession)
                .join(Template, Template.id == WorkspaceSession.template_id)
                .where(owned, WorkspaceSession.state.in_(COMPUTE_STATES))
            )
            asked = float(getattr(template, column.key))
            if float(held or 0) + asked > scope.limits[field]:
                what = "CPU cores" if field == "max_cpu_cores" else "MiB of memory"
                raise _refuse(scope, field, float(held or 0), asked, what)


async def check_reservation(
    db: AsyncSession, user: User, scopes: list[QuotaScope], count: int, duration: timedelta
) -> None:
    """Inside the transaction that inserts ``user``'s reservation of ``count``
    machines, as its first statements: lock the org (when a quota applies) and
    check every scope's machine and lease-length limits.

    Raises:
        QuotaExceeded: the first limit the reservation would pass (429).
    """
    if not scopes:
        return
    await lock(db, user, scopes)
    check_lease_length(scopes, duration.total_seconds() / 60)
    for scope in scopes:
        if "max_reserved_machines" not in scope.limits:
            continue
        owned = _owned_by(Reservation.user_id, Reservation.org_id, user, scope)
        held = await db.scalar(
            select(func.coalesce(func.sum(Reservation.count), 0)).where(
                owned, Reservation.state.in_(LIVE_STATES)
            )
        )
        if int(held or 0) + count > scope.limits["max_reserved_machines"]:
            raise _refuse(scope, "max_reserved_machines", int(held or 0), count, "machines")
