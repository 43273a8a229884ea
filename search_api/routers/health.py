"""Readiness: one bit for anyone, what is wrong only for the operators; metrics.

A load balancer or orchestrator probes without a token and needs only ready
or not ready. A failing component's text can name hosts, paths and index
names, so it goes only to admin and privacy staff (a token of another role
gets the one bit; a bad token is refused like anywhere else), with the index
outbox's depth and age (items acknowledged but not yet searchable).

``/metrics`` is the Prometheus text format for a scraper without a token: the
outbox's counts and ages only, nothing of an item, a host or a path.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Response, status
from fastapi.responses import PlainTextResponse

from archive.config import Role
from search_api.deps import ArchiveDep, OptionalUser
from search_api.errors import error_responses
from search_api.schemas.health import HealthPublic

router = APIRouter(tags=["health"])

#: Roles that see each component's state and error text.
DETAIL_ROLES: Final = frozenset({Role.ADMIN, Role.PRIVACY})


@router.get("/healthz", response_model_exclude_unset=True, responses={
    status.HTTP_503_SERVICE_UNAVAILABLE: {"model": HealthPublic,
                                          "description": "A component is not ok"},
    **error_responses(401)})
def healthz(archive: ArchiveDep, user: OptionalUser, response: Response) -> HealthPublic:
    """Ready or not (503); each component's state with an admin or privacy token."""
    health = archive.health()
    ok = bool(health["ok"])
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    if user is None or user.role not in DETAIL_ROLES:
        return HealthPublic(ok=ok)
    outbox = archive.index_status()
    backlog = {"outbox_backlog": outbox.backlogged} if outbox.backlogged else {}
    return HealthPublic(ok=ok, catalog=str(health["catalog"]), store=str(health["store"]),
                        index=str(health["index"]), outbox_depth=outbox.depth,
                        outbox_oldest_age_seconds=round(outbox.oldest_age_s, 3), **backlog)


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
def metrics(archive: ArchiveDep) -> str:
    """Prometheus text exposition of the index outbox (no token: counts only)."""
    s = archive.index_status()
    rows = [
        ("commarchive_index_outbox_depth", "gauge",
         "Items acknowledged (durable) but not yet searchable.", s.depth),
        ("commarchive_index_outbox_oldest_age_seconds", "gauge",
         "Seconds the oldest item in the index outbox has waited.", s.oldest_age_s),
        ("commarchive_index_outbox_backlogged", "gauge",
         "1 while ingest is refused because the outbox is over its limit.",
         int(s.backlogged is not None)),
        ("commarchive_index_outbox_indexed_total", "counter",
         "Items the outbox has written to the index since start.", s.indexed),
        ("commarchive_index_outbox_failed_batches_total", "counter",
         "Index writes of the outbox that failed and were retried.", s.failed_batches),
    ]
    lines = []
    for name, kind, text, value in rows:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    name = "commarchive_index_outbox_latency_seconds"
    lines += [f"# HELP {name} Enqueued (before the acknowledgement) to searchable, recent items.",
              f"# TYPE {name} summary",
              f'{name}{{quantile="0.5"}} {s.latency_p50_s}',
              f'{name}{{quantile="0.99"}} {s.latency_p99_s}']
    return "\n".join(lines) + "\n"
