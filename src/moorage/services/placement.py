"""Placement: which environment a new session starts on (issue 15).

An environment is *eligible* for a template when it belongs to the launching org,
is ``active`` (not cordoned or draining), is one whose workspaces the gateway can
reach (:func:`gateway_reaches`), is not known to be unreachable (unless none is
reachable), and carries every label of the template's
``environment_labels``. What it *holds* is the sum of the ``cpu_limit`` and
``memory_limit_mb`` of the templates of its live sessions and warm workspaces (a
stopped session holds none). It has *room* for a template unless that would pass a
capacity an operator set (``cpu_capacity``, ``memory_capacity_mb``); without one
there is no limit, as templates' limits are ceilings that a lab overcommits. Its
*size* for the policy is that capacity, else what the engine reported
(:meth:`~moorage.models.environment.Environment.workspace_capacity`).

The org's policy picks among the eligible environments with room for the template:

* ``spread``: the most free room (the smaller of the free CPU and memory shares;
  then the fewest sessions), so sessions spread evenly over equal hosts;
* ``pack``: the least free room that fits, so whole hosts stay empty.

:func:`place` runs inside the transaction that inserts the session, with the
eligible environments' rows locked (``SELECT … FOR UPDATE``; SQLite serialises
writers), so two launches racing for the last room never both get it.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.drivers.pool import DriverPool
from moorage.errors import RuntimeUnavailable
from moorage.models.environment import Environment, EnvironmentState
from moorage.models.lease import LIVE_STATES, LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.warm import WarmState, WarmWorkspace
from moorage.services.catalog import build_command

__all__ = [
    "Policy",
    "Room",
    "candidates",
    "choose",
    "eligible",
    "holding_image",
    "place",
    "rooms_of",
]


class Policy(enum.StrEnum):
    """An org's placement policy (``orgs.placement_policy``)."""

    SPREAD = "spread"
    PACK = "pack"


@dataclass(frozen=True)
class Room:
    """One environment's room and use: CPU cores, memory in MB, live sessions.

    ``cpu_capacity`` and ``memory_capacity_mb`` are the limits an operator set (None:
    no limit): only they make a launch wait for room, because a template's limits
    are ceilings, and sharing a host's cores and memory among more workspaces than
    it could run flat out is what a lab does. ``cpu_size`` and ``memory_size_mb``
    (the limit, else what the engine reported) weigh the free room for the policy.
    """

    environment: Environment
    cpu_capacity: float | None
    memory_capacity_mb: int | None
    cpu_used: float = 0.0
    memory_used_mb: int = 0
    sessions: int = 0
    cpu_size: float | None = None
    memory_size_mb: int | None = None

    def fits(self, cpu: float, memory_mb: int) -> bool:
        """Whether ``cpu`` cores and ``memory_mb`` more fit under the limits."""
        cpu_ok = self.cpu_capacity is None or self.cpu_used + cpu <= self.cpu_capacity + 1e-9
        memory_ok = (
            self.memory_capacity_mb is None
            or self.memory_used_mb + memory_mb <= self.memory_capacity_mb
        )
        return cpu_ok and memory_ok

    def free_share(self) -> float:
        """The smaller free share of CPU and memory, at most 1 (negative when
        overcommitted); 1 when neither size is known."""
        shares = [1.0]
        cpu_size = self.cpu_capacity or self.cpu_size
        memory_size = self.memory_capacity_mb or self.memory_size_mb
        if cpu_size:
            shares.append(1 - self.cpu_used / cpu_size)
        if memory_size:
            shares.append(1 - self.memory_used_mb / memory_size)
        return min(shares)


def labels_match(environment: Environment, wanted: Mapping[str, str] | None) -> bool:
    """Whether ``environment`` carries every label of ``wanted`` (values compared as
    strings)."""
    have = environment.labels or {}
    return all(str(have.get(key)) == str(value) for key, value in (wanted or {}).items())


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def gateway_reaches(environment: Environment) -> bool:
    """Whether the gateway can reach workspaces started there: an engine on this host
    (a Unix socket, or TCP on loopback), whose ports are published here, or an
    ``ssh://`` engine, whose ports the gateway reaches over its SSH connection, or an
    ``agent://`` one, reached through its agent's tunnel (:mod:`moorage.gateway.reach`),
    or a swarm, whose nodes' addresses it reports (:mod:`moorage.drivers.docker.swarm`).
    Other TCP engines serve Docker management only."""
    if environment.kind in ("socket", "ssh", "agent", "swarm"):
        return True
    host = environment.url.removeprefix("tcp://").split("/", 1)[0].rsplit(":", 1)[0]
    return environment.kind == "tcp" and host in LOOPBACK_HOSTS


def eligible(environments: Iterable[Environment], template: Template) -> list[Environment]:
    """The environments a new session of ``template`` may start on (module
    docstring), oldest first. When every one of them failed its last status check,
    they are all returned: the launch then tries one and reports the engine's own
    error (or succeeds, when the check is older than its recovery)."""
    matching = sorted(
        (
            env
            for env in environments
            if env.state == EnvironmentState.ACTIVE.value
            and gateway_reaches(env)
            and labels_match(env, template.environment_labels)
        ),
        key=lambda env: env.created_at,
    )
    reachable = [env for env in matching if env.status != "unreachable"]
    return reachable or matching


async def rooms_of(db: AsyncSession, environments: Sequence[Environment]) -> list[Room]:
    """The :class:`Room` of each of ``environments``, in their order."""
    ids = [env.id for env in environments]
    holding = [s for s in LIVE_STATES if s != LeaseState.STOPPED.value]
    sessions = await db.execute(
        select(
            WorkspaceSession.environment_id,
            func.count(),
            func.coalesce(func.sum(Template.cpu_limit), 0.0),
            func.coalesce(func.sum(Template.memory_limit_mb), 0),
        )
        .join(Template, Template.id == WorkspaceSession.template_id)
        .where(WorkspaceSession.environment_id.in_(ids), WorkspaceSession.state.in_(holding))
        .group_by(WorkspaceSession.environment_id)
    )
    warm = await db.execute(
        select(
            WarmWorkspace.environment_id,
            func.coalesce(func.sum(Template.cpu_limit), 0.0),
            func.coalesce(func.sum(Template.memory_limit_mb), 0),
        )
        .join(Template, Template.id == WarmWorkspace.template_id)
        .where(
            WarmWorkspace.environment_id.in_(ids),
            WarmWorkspace.state.in_((WarmState.STARTING.value, WarmState.WARM.value)),
        )
        .group_by(WarmWorkspace.environment_id)
    )
    counts: dict[str, int] = {env_id: 0 for env_id in ids}
    cpus: dict[str, float] = {env_id: 0.0 for env_id in ids}
    memories: dict[str, int] = {env_id: 0 for env_id in ids}
    for env_id, count, cpu, memory in sessions.tuples():
        counts[env_id], cpus[env_id], memories[env_id] = int(count), float(cpu), int(memory)
    for env_id, cpu, memory in warm.tuples():
        cpus[env_id] += float(cpu)
        memories[env_id] += int(memory)
    rooms = []
    for env in environments:
        cpu_size, memory_size = env.workspace_capacity()
        rooms.append(
            Room(
                env,
                env.cpu_capacity,
                env.memory_capacity_mb,
                cpus[env.id],
                memories[env.id],
                counts[env.id],
                cpu_size,
                memory_size,
            )
        )
    return rooms


def choose(rooms: Sequence[Room], template: Template, policy: Policy) -> Environment:
    """The environment ``policy`` picks for one more session of ``template``.

    Raises:
        RuntimeUnavailable (503, code ``no_room``): none has room; the message names
            the labels asked for and the CPU or memory missing.
    """
    cpu, memory = float(template.cpu_limit or 0), int(template.memory_limit_mb or 0)
    fitting = [room for room in rooms if room.fits(cpu, memory)]
    if not fitting:
        raise _no_room(rooms, template, cpu, memory)
    if policy == Policy.PACK:
        best = min(fitting, key=lambda r: (r.free_share(), -r.sessions))
    else:
        best = max(fitting, key=lambda r: (r.free_share(), -r.sessions))
    return best.environment


def _no_room(rooms: Sequence[Room], template: Template, cpu: float, memory: int) -> Exception:
    """The 503 of :func:`choose`: each message is one literal, for the catalogs."""
    wanted = template.environment_labels or {}
    labels = ", ".join(f"{k}={v}" for k, v in sorted(wanted.items()))
    params: dict[str, object] = {"template": template.name, "labels": labels}
    if not rooms:
        if wanted:
            return RuntimeUnavailable(
                "no active, reachable environment labelled %(labels)s can start template "
                "%(template)s",
                params=params,
                code="no_environment",
            )
        return RuntimeUnavailable(
            "no active, reachable environment can start template %(template)s",
            params=params,
            code="no_environment",
        )
    short_memory = all(
        r.memory_capacity_mb is not None and r.memory_used_mb + memory > r.memory_capacity_mb
        for r in rooms
    )
    params.update(memory=memory, cpu=f"{cpu:g}")
    if short_memory and wanted:
        return RuntimeUnavailable(
            "no environment labelled %(labels)s has %(memory)s MB of memory free for "
            "template %(template)s",
            params=params,
            code="no_room",
        )
    if short_memory:
        return RuntimeUnavailable(
            "no environment has %(memory)s MB of memory free for template %(template)s",
            params=params,
            code="no_room",
        )
    if wanted:
        return RuntimeUnavailable(
            "no environment labelled %(labels)s has %(cpu)s CPU cores free for template "
            "%(template)s",
            params=params,
            code="no_room",
        )
    return RuntimeUnavailable(
        "no environment has %(cpu)s CPU cores free for template %(template)s",
        params=params,
        code="no_room",
    )


async def candidates(db: AsyncSession, org_id: str, template: Template) -> list[Environment]:
    """The environments of org ``org_id`` a session of ``template`` may start on, with
    room now: a first look, for a clear 503 before anything is written (:func:`place`
    decides under lock).

    Raises:
        RuntimeUnavailable: the org has no environment, or as :func:`choose`.
    """
    environments = list(await db.scalars(select(Environment).where(Environment.org_id == org_id)))
    if not environments:
        raise RuntimeUnavailable(
            "no Docker environment is configured; start Moorage where Docker is reachable",
            code="no_environment",
        )
    rooms = await rooms_of(db, eligible(environments, template))
    choose(rooms, template, Policy.SPREAD)  # raises when none fits
    cpu, memory = float(template.cpu_limit or 0), int(template.memory_limit_mb or 0)
    return [room.environment for room in rooms if room.fits(cpu, memory)]


async def holding_image(
    drivers: DriverPool, template: Template, environments: Sequence[Environment]
) -> set[str]:
    """Ids of ``environments`` whose engine holds the template's image (asked of all
    at once).

    Raises:
        RuntimeUnavailable (``image_missing``): none does; the message gives the
            command that builds it.
    """
    present = await asyncio.gather(
        *(drivers.get(env).image_present(template.image) for env in environments)
    )
    ids = {env.id for env, here in zip(environments, present, strict=True) if here}
    if not ids:
        raise RuntimeUnavailable(
            "the image %(image)s of template %(template)s is not on environment "
            "%(environment)s; build it with `%(command)s`",
            params={
                "image": template.image,
                "template": template.name,
                "environment": environments[0].name,
                "command": build_command(template.image),
            },
            code="image_missing",
        )
    return ids


async def place(
    db: AsyncSession,
    org_id: str,
    template: Template,
    policy: Policy | str,
    among: Collection[str] | None = None,
) -> Environment:
    """Choose the environment of a new session of ``template`` in org ``org_id``,
    inside the caller's write transaction: the eligible environments' rows are locked
    until it commits (module docstring). ``among``: only these environment ids (those
    that hold the template's image).

    Raises:
        RuntimeUnavailable: no eligible environment, or none with room (503).
    """
    environments = list(
        await db.scalars(
            select(Environment)
            .where(Environment.org_id == org_id)
            .order_by(Environment.created_at)
            .with_for_update()
        )
    )
    candidates = [
        env for env in eligible(environments, template) if among is None or env.id in among
    ]
    return choose(await rooms_of(db, candidates), template, Policy(policy))
