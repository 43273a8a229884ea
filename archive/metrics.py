"""The process's Prometheus metrics: what every layer counts, in one registry.

Counters and histograms are module globals (prometheus-client's way), bumped
where the thing happens: intake (items per channel and outcome, prepare to
durable), retention (sweeps, purges per reason), the search facade, SMTP
replies, transcription. Values that already live elsewhere (the index
outbox, the SIPREC server's counters) are read at scrape time by collectors
registered on :data:`REGISTRY` by whoever owns them. Labels are closed sets
(channels, reply codes, reasons): never an item id, an address or a host, so
``/metrics`` can be scraped without a token.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

#: Everything ``/metrics`` exposes (a registry of our own: tests and several apps in
#: one process never register twice on the library's global one).
REGISTRY: Final = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

INGESTED: Final = Counter(
    "commarchive_ingest_items", "Items delivered, per channel and outcome "
    "(archived: new and durable; duplicate: a re-delivery; failed: refused for now).",
    ["channel", "outcome"], registry=REGISTRY)
INGEST_SECONDS: Final = Histogram(
    "commarchive_ingest_seconds", "Seconds from the start of sealing to durable "
    "(blob and catalog row), per channel.", ["channel"], buckets=_LATENCY_BUCKETS,
    registry=REGISTRY)
SMTP_REPLIES: Final = Counter(
    "commarchive_smtp_replies", "SMTP replies sent, per reply code.", ["code"],
    registry=REGISTRY)
SEARCH_SECONDS: Final = Histogram(
    "commarchive_search_seconds", "Seconds a search took (authorised, index and catalog).",
    buckets=_LATENCY_BUCKETS, registry=REGISTRY)
SWEEPS: Final = Counter(
    "commarchive_sweeps", "Retention sweeps run (not dry runs).", registry=REGISTRY)
SWEEP_TAGS_DROPPED: Final = Counter(
    "commarchive_sweep_tags_dropped", "Expired purpose tags (and their keys) dropped by sweeps.",
    registry=REGISTRY)
PURGED: Final = Counter(
    "commarchive_items_purged", "Items purged to a tombstone, per reason "
    "(retention, erasure, ...).", ["reason"], registry=REGISTRY)
TRANSCRIPTIONS: Final = Counter(
    "commarchive_transcriptions", "Transcription attempts, per outcome.", ["outcome"],
    registry=REGISTRY)
TRANSCRIPTION_RTF: Final = Histogram(
    "commarchive_transcription_rtf", "Real-time factor of transcription: seconds of work "
    "per second of audio (all channels of a call).",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0), registry=REGISTRY)


def record_ingest(channel: str, created: bool | None, seconds: float) -> None:
    """One delivered item: ``created`` None when it failed, False for a re-delivery."""
    outcome = "failed" if created is None else "archived" if created else "duplicate"
    INGESTED.labels(channel, outcome).inc()
    if created:
        INGEST_SECONDS.labels(channel).observe(seconds)
