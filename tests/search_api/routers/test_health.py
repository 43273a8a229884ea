"""GET /healthz: each component's state."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_reports_each_component(client: TestClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"catalog": "ok", "store": "ok", "index": "ok", "ok": True}
