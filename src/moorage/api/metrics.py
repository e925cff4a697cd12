"""``GET /metrics``: Prometheus' text exposition format, for an admin's bearer token or
the scraper's ``MOORAGE_METRICS_TOKEN``.

What happens (launches, claims, expiries, reports, sign-in failures, HTTP requests) is
counted in :mod:`moorage.observability.metrics`; what is (leases, environments,
machines, agents) is read from the database at each scrape
(:mod:`moorage.services.gauges`).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from moorage.api.deps import ContextDep
from moorage.api.errors import API_SCOPE_KEY
from moorage.context import Context
from moorage.models.user import Role
from moorage.observability.metrics import CONTENT_TYPE, exposition
from moorage.security.access import AdminOrMetricsToken
from moorage.security.auth import credential_of, user_from_connection
from moorage.security.rbac import require_role
from moorage.services.gauges import database_gauges

__all__ = ["metrics_body", "router"]

router = APIRouter(tags=["metrics"])


async def metrics_body(context: Context) -> bytes:
    """The whole exposition: this process's (or every worker's) counters and histograms,
    then the gauges read from the database."""
    queued = len(context.reconciler.queue) if context.reconciler is not None else None
    return exposition() + await database_gauges(context.sessionmaker, queued_deadlines=queued)


@router.get("/metrics", dependencies=[AdminOrMetricsToken], response_class=Response)
async def metrics(request: Request, context: ContextDep) -> Response:
    """The metrics in Prometheus' text format (``text/plain; version=0.0.4``).

    401 without a credential or with a bad one; 403 for a user below admin. The
    ``MOORAGE_METRICS_TOKEN``, sent as ``Authorization: Bearer <token>``, is accepted
    as well as an admin's API token (or login cookie)."""
    request.scope[API_SCOPE_KEY] = True  # a scraper gets 401/403, never a login page
    expected = context.settings.metrics_token
    given = credential_of(request)
    if not (
        expected is not None
        and given is not None
        and hmac.compare_digest(given.encode(), expected.get_secret_value().encode())
    ):
        require_role(await user_from_connection(request, context), Role.ADMIN)
    return Response(await metrics_body(context), media_type=CONTENT_TYPE)
