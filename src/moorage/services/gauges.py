"""What *is*, read from the database at each scrape of ``GET /metrics``: live leases by
kind and state, environments by state, pool machines by status, fleet nodes (agents)
by status, and the reconciler's queue in this process.

Read at scrape time rather than kept as in-process gauges: with several server
processes each would see only its own changes, while the database is what every one
agrees on. The figures span every org (the scraper is an operator of the whole
installation). Warm workspaces are not reported: Moorage has no warm pools yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.models.environment import Environment
from moorage.models.fleet import Node
from moorage.models.lease import LIVE_STATES
from moorage.models.machine import Machine, MachineStatus
from moorage.models.reservation import Reservation
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template, TemplateKind

__all__ = ["database_gauges"]

_ENVIRONMENT_STATES = ("unknown", "online", "offline")
_NODE_STATES = ("unknown", "online", "offline")


class _Families(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return iter(self._families)


def _counted(rows: Iterable[Any], known: Iterable[str]) -> dict[str, int]:
    """``{value: count}`` from ``(value, count)`` rows, every ``known`` value present."""
    counts = dict.fromkeys(known, 0)
    for value, count in rows:
        counts[str(value)] = counts.get(str(value), 0) + int(count)
    return counts


async def database_gauges(
    sessionmaker: async_sessionmaker[AsyncSession], *, queued_deadlines: int | None
) -> bytes:
    """The gauges above in Prometheus' text format. ``queued_deadlines``: the size of
    this process's reconciler queue, None when it runs no reconciler."""
    async with sessionmaker() as db:
        sessions = await db.execute(
            select(Template.kind, WorkspaceSession.state, func.count())
            .join(Template, WorkspaceSession.template_id == Template.id)
            .where(WorkspaceSession.state.in_(LIVE_STATES))
            .group_by(Template.kind, WorkspaceSession.state)
        )
        session_rows = list(sessions)
        reservations = _counted(
            await db.execute(
                select(Reservation.state, func.count())
                .where(Reservation.state.in_(LIVE_STATES))
                .group_by(Reservation.state)
            ),
            LIVE_STATES,
        )
        environments = _counted(
            await db.execute(select(Environment.status, func.count()).group_by(Environment.status)),
            _ENVIRONMENT_STATES,
        )
        machines = _counted(
            await db.execute(select(Machine.status, func.count()).group_by(Machine.status)),
            (status.value for status in MachineStatus),
        )
        nodes = _counted(
            await db.execute(select(Node.status, func.count()).group_by(Node.status)),
            _NODE_STATES,
        )

    leases = GaugeMetricFamily(
        "moorage_live_leases",
        "Live leases (pending to releasing) by lease kind (session, reservation), what they "
        "hold (a workspace kind, or machine) and state.",
        labels=["lease", "kind", "state"],
    )
    by_kind_state = {(kind.value, state): 0 for kind in TemplateKind for state in LIVE_STATES}
    for kind, state, count in session_rows:
        by_kind_state[(str(kind), str(state))] = int(count)
    for (kind, state), count in by_kind_state.items():
        leases.add_metric(["session", kind, state], count)
    for state, count in reservations.items():
        leases.add_metric(["reservation", "machine", state], count)
    families = [leases]
    for name, documentation, counts in (
        ("moorage_environments", "Docker environments by their last checked state.", environments),
        ("moorage_pool_machines", "Pool machines by status.", machines),
        (
            "moorage_fleet_nodes",
            "Fleet nodes (machines running the agent) by status; online ones are the agents "
            "reporting now.",
            nodes,
        ),
    ):
        family = GaugeMetricFamily(name, documentation, labels=["state"])
        for state, count in counts.items():
            family.add_metric([state], count)
        families.append(family)
    agents = GaugeMetricFamily(
        "moorage_agents_connected", "Fleet agents reporting within the offline delay."
    )
    agents.add_metric([], nodes.get("online", 0))
    families.append(agents)
    if queued_deadlines is not None:
        queued = GaugeMetricFamily(
            "moorage_reconciler_queued_deadlines",
            "Lease deadlines waiting in this process's reconciler queue.",
        )
        queued.add_metric([], queued_deadlines)
        families.append(queued)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)
