"""Liveness, readiness (one bit for anyone, what is wrong only for operators), metrics.

``/healthz`` is liveness: the process answers HTTP, nothing else is asked, so an
orchestrator restarts a node only when the node itself is stuck, never because
a shared service is down (restarting every node would not bring it back).
``/readyz`` is readiness: catalog, store and index reachable; a load balancer
sends traffic only to a ready node. It needs only ready or not ready. A failing
component's text can name hosts, paths and index names, so it goes only to
admin and privacy staff (a token of another role gets the one bit; a bad token
is refused like anywhere else), with the index outbox's depth and age (items
acknowledged but not yet searchable).

``/metrics`` is the Prometheus text format for a scraper without a token
(``archive.metrics``: counts, latencies and ages with closed label sets, nothing
of an item, a host or a path), plus the index outbox and the shared job queue's
depth and age, read at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from fastapi import APIRouter, Response, status
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from archive import metrics as archive_metrics
from archive.config import Role
from archive.jobs import JobQueue
from archive.service import Archive
from search_api.deps import ArchiveDep, OptionalUser
from search_api.errors import error_responses
from search_api.schemas.health import HealthPublic, LivePublic

router = APIRouter(tags=["health"])

#: Roles that see each component's state and error text.
DETAIL_ROLES: Final = frozenset({Role.ADMIN, Role.PRIVACY})


@router.get("/healthz")
def healthz() -> LivePublic:
    """Alive: this process answers (no component is asked; see ``/readyz``)."""
    return LivePublic(ok=True)


@router.get("/readyz", response_model_exclude_unset=True, responses={
    status.HTTP_503_SERVICE_UNAVAILABLE: {"model": HealthPublic,
                                          "description": "A component is not ok"},
    **error_responses(401)})
def readyz(archive: ArchiveDep, user: OptionalUser, response: Response) -> HealthPublic:
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


class _OutboxCollector(Collector):
    """The index outbox of this node and the shared job queue, read at scrape time."""

    def __init__(self, archive: Archive) -> None:
        self._archive = archive

    def collect(self) -> Iterator[Metric]:
        s = self._archive.index_status()
        for name, text, value in (
            ("commarchive_index_outbox_depth",
             "Items acknowledged (durable) but not yet searchable.", s.depth),
            ("commarchive_index_outbox_oldest_age_seconds",
             "Seconds the oldest item in the index outbox has waited.", s.oldest_age_s),
            ("commarchive_index_outbox_backlogged",
             "1 while ingest is refused because the outbox is over its limit.",
             int(s.backlogged is not None)),
        ):
            yield GaugeMetricFamily(name, text, value=value)
        for name, text, value in (
            ("commarchive_index_outbox_indexed",
             "Items the outbox has written to the index since start.", s.indexed),
            ("commarchive_index_outbox_failed_batches",
             "Index writes of the outbox that failed and were retried.", s.failed_batches),
            ("commarchive_index_outbox_set_aside",
             "Items whose document made indexing fail on its own: set aside, left marked "
             "unindexed, logged by item id.", s.set_aside),
        ):
            yield CounterMetricFamily(name, text, value=value)
        latency = GaugeMetricFamily(
            "commarchive_index_outbox_latency_seconds",
            "Enqueued (before the acknowledgement) to searchable, recent items.",
            labels=["quantile"])
        latency.add_metric(["0.5"], s.latency_p50_s)
        latency.add_metric(["0.99"], s.latency_p99_s)
        yield latency
        queued = GaugeMetricFamily("commarchive_jobs_queued",
                                   "Jobs of the shared queue waiting, per kind.", labels=["kind"])
        running = GaugeMetricFamily("commarchive_jobs_running",
                                    "Jobs claimed by a worker now, per kind.", labels=["kind"])
        failed = GaugeMetricFamily("commarchive_jobs_failed",
                                   "Jobs given up after their retries, per kind.", labels=["kind"])
        age = GaugeMetricFamily("commarchive_jobs_oldest_queued_age_seconds",
                                "Seconds the oldest waiting job of a kind has waited.",
                                labels=["kind"])
        for depth in JobQueue(self._archive.catalog).depth():
            queued.add_metric([depth.kind], depth.queued)
            running.add_metric([depth.kind], depth.running)
            failed.add_metric([depth.kind], depth.failed)
            age.add_metric([depth.kind], depth.oldest_queued_age_s)
        yield from (queued, running, failed, age)


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
def metrics(archive: ArchiveDep) -> Response:
    """Prometheus text exposition (no token: counts and ages only)."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_OutboxCollector(archive))
    body = generate_latest(archive_metrics.REGISTRY) + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
