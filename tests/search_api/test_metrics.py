"""``/metrics`` as a Prometheus server reads it: parsed with the Prometheus text parser,
and the series an operator watches move when traffic flows (SMTP in, a re-delivery,
a search, a sweep that purges), and the SIPREC server's counters appear while it runs."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from archive import metrics
from archive.jobs import JobQueue
from archive.model import now_utc
from archive.retention import sweep
from archive.service import Archive
from ingest.email.config import SmtpConfig
from ingest.sip.counters import SipCollector, SipCounters
from tests.ingest.email.conftest import RunningServer
from tests.ingest.email.test_smtp import message
from tests.search_api.conftest import bearer

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Series:
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, frozenset(labels.items())), 0.0)


def test_the_key_series_move_when_traffic_flows(
    archive: Archive, client: TestClient, tokens: dict[str, str]
) -> None:
    before = scrape(client)
    smtp = RunningServer(archive, SmtpConfig(port=0))
    try:
        raw = message(message_id="<metrics-1@customer.nl>")
        for _ in range(2):  # the second is a re-delivery
            with smtp.client() as mta:
                mta.sendmail("jan@customer.nl", ["support@example.com"], raw)
    finally:
        smtp.close()
    assert client.get("/api/v1/search?q=invoice",
                      headers=bearer(tokens["quality"])).status_code == 200
    report = sweep(archive, now=now_utc() + timedelta(days=365 * 30))
    assert report.purged
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("commarchive_ingest_items_total", channel="email", outcome="archived") == 1
    assert moved("commarchive_ingest_items_total", channel="email", outcome="duplicate") == 1
    assert moved("commarchive_ingest_seconds_count", channel="email") == 1
    assert moved("commarchive_smtp_replies_total", code="250") >= 2  # both DATA answers
    assert moved("commarchive_search_seconds_count") == 1
    assert moved("commarchive_sweeps_total") == 1
    assert moved("commarchive_items_purged_total", reason="retention") == len(report.purged)
    assert value(after, "commarchive_index_outbox_depth") == 0
    assert after[("commarchive_index_outbox_set_aside_total", frozenset())] == 0  # exported


def test_the_job_queue_depth_and_age_are_scraped(archive: Archive, client: TestClient) -> None:
    JobQueue(archive.catalog).enqueue("transcribe", ["i1", "i2"],
                                      now=now_utc() - timedelta(seconds=90))
    series = scrape(client)
    assert value(series, "commarchive_jobs_queued", kind="transcribe") == 2
    assert value(series, "commarchive_jobs_oldest_queued_age_seconds", kind="transcribe") >= 90


def test_the_siprec_server_counters_are_scraped_while_it_runs(client: TestClient) -> None:
    counters = SipCounters(calls_archived=3, calls_truncated=1, rtp_packets=500, dropped_rtp=2)
    collector = SipCollector(counters, lambda: 2)
    metrics.REGISTRY.register(collector)
    try:
        series = scrape(client)
        counters.calls_archived += 1
        later = scrape(client)
    finally:
        metrics.REGISTRY.unregister(collector)
    assert value(series, "commarchive_sip_calls_active") == 2
    assert value(series, "commarchive_sip_calls_truncated_total") == 1
    assert value(series, "commarchive_sip_dropped_rtp_total") == 2
    assert value(later, "commarchive_sip_calls_archived_total") == 4
    assert ("commarchive_sip_calls_active", frozenset()) not in scrape(client)
