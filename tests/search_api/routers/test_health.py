"""GET /readyz: ready / not ready for anyone; which component and why only for admin or privacy.
GET /healthz: alive, whatever the shared services do.

A load balancer needs one bit; the error text of a failing component (a
store path, an index URL, a database message) is for the operators.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from archive.errors import IndexUnavailable
from archive.index import IndexDoc
from archive.model import NewItem
from archive.outbox import OutboxLimits
from archive.service import Archive
from tests.search_api.conftest import assert_error, bearer

INDEX_DOWN = "connection refused by http://10.0.0.7:9200 (index-secret-name)"


@pytest.fixture
def index_down(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise IndexUnavailable(reason=INDEX_DOWN)

    monkeypatch.setattr(archive.index, "health", broken)


def test_without_a_token_only_ready(client: TestClient) -> None:
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"ok": True}


def test_without_a_token_not_ready_says_nothing_more(client: TestClient, index_down: None) -> None:
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json() == {"ok": False}
    assert "index" not in resp.text and "9200" not in resp.text


@pytest.mark.parametrize("role", ["quality", "trainer", "legal", "ingest"])
def test_other_roles_get_only_ready(
    client: TestClient, tokens: dict[str, str], index_down: None, role: str
) -> None:
    resp = client.get("/readyz", headers=bearer(tokens[role]))
    assert resp.status_code == 503
    assert resp.json() == {"ok": False}


@pytest.mark.parametrize("role", ["admin", "privacy"])
def test_admin_and_privacy_get_each_component(
    client: TestClient, tokens: dict[str, str], index_down: None, role: str
) -> None:
    resp = client.get("/readyz", headers=bearer(tokens[role]))
    assert resp.status_code == 503
    body = resp.json()
    assert body["ok"] is False and body["catalog"] == "ok" and body["store"] == "ok"
    assert "9200" in body["index"]


def test_admin_sees_all_ok(client: TestClient, tokens: dict[str, str]) -> None:
    resp = client.get("/readyz", headers=bearer(tokens["admin"]))
    assert resp.json() == {"catalog": "ok", "store": "ok", "index": "ok", "ok": True,
                           "outbox_depth": 0, "outbox_oldest_age_seconds": 0.0}


def test_admin_sees_the_index_outbox_backlog_and_a_scraper_its_metrics(
    archive: Archive, client: TestClient, tokens: dict[str, str],
    new_email: Callable[..., NewItem], monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    real = archive.index.upsert

    def held(docs: Sequence[IndexDoc]) -> None:
        release.wait(20)
        real(docs)

    monkeypatch.setattr(archive.index, "upsert", held)
    archive.start_indexing(OutboxLimits(max_depth=1, max_age_s=60))
    try:
        for _ in range(2):
            archive.ingest(new_email())
        body = client.get("/readyz", headers=bearer(tokens["admin"])).json()
        assert body["ok"] is True and body["outbox_depth"] == 2
        assert body["outbox_oldest_age_seconds"] > 0
        assert "index backlog of 2 items" in body["outbox_backlog"]
        assert client.get("/readyz").json() == {"ok": True}  # no token: one bit
        scraped = _scrape(client)
        assert scraped["commarchive_index_outbox_depth"] == 2
        assert scraped["commarchive_index_outbox_backlogged"] == 1
    finally:
        release.set()
    assert archive.flush_index(10)
    scraped = _scrape(client)
    assert scraped["commarchive_index_outbox_depth"] == 0
    assert scraped["commarchive_index_outbox_indexed_total"] == 2


def _scrape(client: TestClient) -> dict[str, float]:
    """``/metrics`` through the Prometheus text parser: unlabelled sample name -> value."""
    resp = client.get("/metrics")
    assert resp.headers["content-type"].startswith("text/plain")
    return {sample.name: sample.value
            for family in text_string_to_metric_families(resp.text)
            for sample in family.samples if not sample.labels}


def test_alive_while_not_ready(client: TestClient, index_down: None) -> None:
    """An orchestrator must not restart nodes because the shared index is down."""
    assert client.get("/readyz").status_code == 503
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json() == {"ok": True}


def test_a_bad_token_is_refused_in_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/readyz", headers=bearer("cma_bogus")), 401, "token_unknown")
