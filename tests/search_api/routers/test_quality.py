"""The quality API: a reviewer scores an item and comments at a moment, the agent
sees and disputes only its own review, statistics and CSV follow, roles hold."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from archive.config import Role
from archive.service import Archive
from tests.archive.quality.conftest import AGENT_NUMBER, CARD_SECTIONS
from tests.conftest import email_item
from tests.search_api.conftest import assert_error, bearer
from tests.subjects import A, B, call_item

ANSWERS = {"greeting": "yes", "identify": "yes", "solved": "partial"}


def test_the_review_loop_over_the_api(
    client: TestClient, archive: Archive, tokens: dict[str, str],
) -> None:
    quality, agent = bearer(tokens["quality"]), bearer(tokens["agent"])
    admin = bearer(tokens["admin"])
    call = archive.ingest(call_item(A, started_at=datetime.now(UTC))).item_id
    other = archive.ingest(call_item(B, started_at=datetime.now(UTC),
                                     agent="+31205550199")).item_id
    card = client.post("/api/v1/quality/scorecards", headers=quality,
                       json={"name": "Calls", "sections": CARD_SECTIONS})
    assert card.status_code == 201, card.text
    card_id = card.json()["id"]
    resp = client.put("/api/v1/quality/agents/agent-user", headers=admin,
                      json={"identifiers": [AGENT_NUMBER], "team": "Blue"})
    assert resp.status_code == 200, resp.text
    ids = {}
    for item in (call, other):
        started = client.post("/api/v1/quality/reviews", headers=quality,
                              json={"item_id": item, "scorecard_id": card_id})
        assert started.status_code == 201, started.text
        ids[item] = started.json()["id"]
        got = client.post(f"/api/v1/quality/reviews/{ids[item]}/submit", headers=quality,
                          json={"answers": ANSWERS, "summary": "Good, slow to solve."})
        assert got.json()["score"] == 83.3
    comment = client.post(f"/api/v1/quality/items/{call}/comments", headers=quality,
                          json={"text": "Listen here", "at_seconds": 12.0,
                                "review_id": ids[call]})
    assert comment.status_code == 201, comment.text
    # The agent sees its own review only, with the reviewer's comment, and disputes it.
    mine = client.get("/api/v1/quality/reviews", headers=agent).json()
    assert [r["id"] for r in mine] == [ids[call]]
    assert_error(client.get(f"/api/v1/quality/reviews/{ids[other]}", headers=agent), 404,
                 "not_found")
    disputed = client.post(f"/api/v1/quality/reviews/{ids[call]}/response", headers=agent,
                           json={"response": "disputed", "comment": "I did solve it"})
    assert disputed.status_code == 200, disputed.text
    body = disputed.json()
    assert body["response"] == "disputed"
    assert [(c["text"], c["at_seconds"]) for c in body["comments"]] == [
        ("Listen here", 12.0), ("I did solve it", None)]
    # An agent never reads content, nor the item's comments.
    assert_error(client.get(f"/api/v1/items/{call}", headers=agent), 403, "wrong_role")
    assert_error(client.get(f"/api/v1/quality/items/{call}/comments", headers=agent), 403,
                 "wrong_role")
    # Statistics: the agent's own; quality sees both agents; CSV has the same rows.
    own = client.get("/api/v1/quality/stats", headers=agent).json()
    assert [(a["agent"], a["team"], a["mean_score"]) for a in own["agents"]] == [
        (AGENT_NUMBER, "Blue", 83.3)]
    everyone = client.get("/api/v1/quality/stats", headers=quality).json()
    assert len(everyone["agents"]) == 2
    assert {c["criterion"]: c["failure_rate"] for c in everyone["criteria"]} == {
        "greeting": 0.0, "identify": 0.0, "solved": 0.0}
    exported = client.get("/api/v1/quality/stats.csv", headers=quality)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["criterion"] for r in rows} == {"(total)", "greeting", "identify", "solved"}


def test_roles_that_are_not_quality_get_no_reviews(
    client: TestClient, archive: Archive, tokens: dict[str, str],
) -> None:
    item = archive.ingest(email_item()).item_id
    for role in (Role.ADMIN, Role.TRAINER, Role.PRIVACY):
        headers = bearer(tokens[role.value])
        assert_error(client.get("/api/v1/quality/reviews", headers=headers), 403, "wrong_role")
        assert_error(client.post("/api/v1/quality/queue", headers=headers,
                                 json={"item_id": item}), 403, "wrong_role")


def test_bad_input_is_refused_with_the_reason(
    client: TestClient, tokens: dict[str, str],
) -> None:
    quality = bearer(tokens["quality"])
    resp = client.put("/api/v1/quality/policies/x", headers=quality, json={"lists": {}})
    assert "policy 'x': give at least one phrase" in assert_error(
        resp, 400, "invalid_request")["message"]  # type: ignore[operator]
    resp = client.post("/api/v1/quality/sample", headers=quality,
                       json={"week": "2026-12-01", "per_agent": 2, "seed": "s"})
    assert "2026-12-01 is not a Monday" in assert_error(
        resp, 400, "invalid_request")["message"]  # type: ignore[operator]
