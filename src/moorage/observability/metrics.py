"""The process's Prometheus metrics: what happens (counters and histograms), recorded
where it happens.

What *is* (leases by kind and state, environments by state, agents connected) is
not kept here: :mod:`moorage.services.gauges` reads it from the database at each
scrape, so every server process of a deployment answers the same figures.

Several server processes (``moorage serve --workers N``): the counters and histograms
of each worker live in that worker, and a scrape reaches one worker. With
``PROMETHEUS_MULTIPROC_DIR`` set before the workers start (``moorage serve`` does
it, see :func:`prepare_multiprocess`), prometheus-client writes every worker's values
to memory-mapped files there and :func:`exposition` sums them (its *multiprocess
mode*): the figures are the deployment's whatever worker answers.

Names follow Prometheus' conventions (base units, ``_total`` counters, ``_seconds``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

__all__ = [
    "AGENT_REPORTS",
    "CONTENT_TYPE",
    "EXPIRY_LATENESS",
    "GATEWAY_CONNECTIONS",
    "HTTP_REQUESTS",
    "HTTP_REQUEST_SECONDS",
    "LAUNCH_SECONDS",
    "LOGIN_FAILURES",
    "MULTIPROC_ENV",
    "RECLAIM_LATENESS",
    "RESERVATION_CLAIM_SECONDS",
    "exposition",
    "prepare_multiprocess",
]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""``text/plain; version=0.0.4``: Prometheus' text exposition format, which every
Prometheus version reads (our names need none of the escaping of format 1.0.0)."""

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120)
_LATENESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60)

LAUNCH_SECONDS = Histogram(
    "moorage_session_launch_seconds",
    "Time from a session launch request to its workspace answering (or the launch failing).",
    ["kind", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
RESERVATION_CLAIM_SECONDS = Histogram(
    "moorage_reservation_claim_seconds",
    "Time from a reservation request to its machines being claimed and their accounts "
    "ready (or the claim failing).",
    ["outcome"],
    buckets=_LATENCY_BUCKETS,
)
EXPIRY_LATENESS = Histogram(
    "moorage_lease_expiry_lateness_seconds",
    "Time from a lease's deadline to the reconciler ending it (access refused from then).",
    ["kind"],
    buckets=_LATENESS_BUCKETS,
)
RECLAIM_LATENESS = Histogram(
    "moorage_lease_reclaim_lateness_seconds",
    "Time from a lease's deadline to its resources being taken back (the lease released).",
    ["kind"],
    buckets=_LATENESS_BUCKETS,
)
AGENT_REPORTS = Counter(
    "moorage_fleet_reports_total",
    "Fleet agent reports received, by outcome: ingested, or the error code of a rejection.",
    ["outcome"],
)
LOGIN_FAILURES = Counter(
    "moorage_login_failures_total",
    "Failed sign-ins by reason: wrong_password, unknown_user, account_disabled.",
    ["reason"],
)
HTTP_REQUESTS = Counter(
    "moorage_http_requests_total",
    "HTTP requests answered, by method, route template (e.g. /api/v1/sessions/{session_id}) "
    "and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "moorage_http_request_duration_seconds",
    "Time to answer an HTTP request (to the start of its response), by method and route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
GATEWAY_CONNECTIONS = Gauge(
    "moorage_gateway_connections",
    "Open workspace connections (terminal, desktop, exec websockets) by kind.",
    ["kind"],
    multiprocess_mode="livesum",
)


def prepare_multiprocess(directory: Path) -> None:
    """Empty ``directory`` and point prometheus-client's multiprocess mode at it, for
    worker processes started after this (they inherit the environment). Call it in the
    parent before the workers start, never while one runs (their files would go)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)


def exposition() -> bytes:
    """This process's metrics (every worker's, summed, in multiprocess mode) in the text
    format, with the interpreter's own (``process_*``, ``python_*``) when single-process."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
