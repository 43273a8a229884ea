"""The backfill API: asking answers 202 at once with the request's address, a worker runs
it, polling shows its progress and result; only the quality role asks or sees, and bad
requests get the one error shape with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from archive.config import Role
from archive.quality import backfill, monitoring
from archive.service import Archive
from tests.conftest import email_item
from tests.search_api.conftest import assert_error, bearer

POLICY = {"lists": {"*": ["cancel my contract"]}}


def test_a_backfill_is_asked_for_polled_and_finished(
    client: TestClient, archive: Archive, tokens: dict[str, str],
) -> None:
    quality = bearer(tokens["quality"])
    day = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for n in range(5):
        archive.ingest(email_item(body="Please cancel my contract." if n % 2 else "Hello.",
                                  started_at=day + timedelta(hours=n)))
    archive.ingest(email_item(body="Please cancel my contract.",
                              started_at=day + timedelta(days=30)))  # outside the range
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")

    resp = client.post("/api/v1/quality/backfills", headers=quality,
                       json={"since": "2026-03-01", "until": "2026-03-03"})
    assert resp.status_code == 202, resp.text
    asked = resp.json()
    assert asked["url"] == f"/api/v1/quality/backfills/{asked['id']}"
    assert resp.headers["Location"] == asked["url"]
    assert (asked["status"], asked["items_done"], asked["policies"], asked["since"]) == (
        "queued", 0, ["churn"], "2026-03-01T00:00:00+00:00")
    assert client.get(asked["url"], headers=quality).json()["status"] == "queued"

    assert backfill.run_queued(archive, worker="test", batch_items=2) == 1  # the worker
    got = client.get(asked["url"], headers=quality).json()
    assert {k: got[k] for k in ("status", "items_total", "items_done", "queued", "error")} \
        == {"status": "done", "items_total": 5, "items_done": 5, "queued": 2, "error": None}
    assert got["finished_at"] is not None
    listed = client.get("/api/v1/quality/backfills", headers=quality).json()
    assert [b["id"] for b in listed] == [asked["id"]]


def test_only_the_quality_role_asks_for_or_sees_backfills(
    client: TestClient, archive: Archive, tokens: dict[str, str],
) -> None:
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    asked = backfill.request(archive, actor="rita", role="quality")
    for role in (Role.ADMIN, Role.AGENT, Role.TRAINER, Role.PRIVACY):
        headers = bearer(tokens[role.value])
        assert_error(client.post("/api/v1/quality/backfills", headers=headers, json={}),
                     403, "wrong_role")
        assert_error(client.get("/api/v1/quality/backfills", headers=headers), 403,
                     "wrong_role")
        assert_error(client.get(f"/api/v1/quality/backfills/{asked.id}", headers=headers),
                     403, "wrong_role")


def test_bad_backfills_are_refused_with_the_reason(
    client: TestClient, archive: Archive, tokens: dict[str, str],
) -> None:
    quality = bearer(tokens["quality"])
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    resp = client.post("/api/v1/quality/backfills", headers=quality,
                       json={"policies": ["nope"]})
    assert "policy 'nope' does not exist" in assert_error(
        resp, 404, "not_found")["message"]  # type: ignore[operator]
    resp = client.post("/api/v1/quality/backfills", headers=quality,
                       json={"since": "2026-03-02", "until": "2026-03-01"})
    assert "'since' (2026-03-02) must be before 'until'" in assert_error(
        resp, 400, "invalid_request")["message"]  # type: ignore[operator]
    resp = client.get("/api/v1/quality/backfills/4242", headers=quality)
    assert "backfill request 4242 does not exist" in assert_error(
        resp, 404, "not_found")["message"]  # type: ignore[operator]
    assert client.get("/api/v1/quality/backfills", headers=quality).json() == []
