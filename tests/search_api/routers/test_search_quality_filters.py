"""The quality team's search filters: agent, has-review and queue, with their role rules.

Review and queue state is resolved in the catalog when the search runs, so a review
shows in the very next search, with right totals and pages.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from archive.config import Role
from archive.quality import agents, filters, queue, reviews, scorecards
from archive.service import Archive
from archive.users import User
from tests.archive.quality.conftest import CARD_SECTIONS
from tests.conftest import email_item
from tests.search_api.conftest import assert_error, bearer

REVIEWER = User("quality-user", Role.QUALITY)


@pytest.fixture
def items(archive: Archive, tokens: dict[str, str]) -> dict[str, str]:
    """Three e-mails: smith's (reviewed), smith's (queued by hand), jones's (untouched)."""
    archive.users.add("smith", Role.AGENT)
    agents.link(archive, "smith", ["smith@example.com", "+31205550100"], team="Blue",
                actor="admin", role="admin")
    archive.users.add("jones", Role.AGENT)
    agents.link(archive, "jones", ["jones@example.com"], team=None, actor="admin",
                role="admin")
    got = {
        "reviewed": archive.ingest(email_item(body="modem one", agent="smith@example.com")),
        "queued": archive.ingest(email_item(body="modem two", agent="smith@example.com")),
        "other": archive.ingest(email_item(body="modem three", agent="jones@example.com")),
    }
    ids = {k: v.item_id for k, v in got.items()}
    card = scorecards.save(archive, name="Mail", sections=CARD_SECTIONS, actor="rita",
                           role="quality")
    review = reviews.start(archive, REVIEWER, ids["reviewed"], card.id)
    reviews.submit(archive, REVIEWER, review,
                   {"greeting": "yes", "identify": "yes", "solved": "yes"}, "fine")
    queue.add_manual(archive, REVIEWER, ids["queued"])
    return ids


def _search(client: TestClient, token: str, **params: Any) -> tuple[int, list[str]]:
    resp = client.get("/api/v1/search", params=params, headers=bearer(token))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return body["total"], [h["id"] for h in body["items"]]


def test_reviewed_not_reviewed_agent_and_queue_filters(
    client: TestClient, tokens: dict[str, str], items: dict[str, str],
) -> None:
    q = tokens["quality"]
    reviewed, queued, other = items["reviewed"], items["queued"], items["other"]
    assert _search(client, q, reviewed="true") == (1, [reviewed])
    total, found = _search(client, q, reviewed="false")
    assert (total, sorted(found)) == (2, sorted([queued, other]))
    total, found = _search(client, q, agent="smith")
    assert (total, sorted(found)) == (2, sorted([reviewed, queued]))
    assert _search(client, q, agent="smith", reviewed="false") == (1, [queued])
    assert _search(client, q, agent="jones", q="modem") == (1, [other])
    assert _search(client, q, queue="any") == (1, [queued])
    assert _search(client, q, queue="manual", queue_status="open") == (1, [queued])
    assert _search(client, q, queue="sample") == (0, [])
    assert _search(client, q, queue_status="done") == (0, [])
    assert _search(client, q, queue="any", reviewed="true") == (0, [])
    # Pages and totals stay right under the filter.
    first = _search(client, q, reviewed="false", limit=1)
    second = _search(client, q, reviewed="false", limit=1, offset=1)
    assert first[0] == second[0] == 2
    assert sorted(first[1] + second[1]) == sorted([queued, other])


def test_the_search_audit_event_says_whom_and_how_it_filtered(
    client: TestClient, archive: Archive, tokens: dict[str, str], items: dict[str, str],
) -> None:
    """A privacy officer asking "who looked up this agent, or this customer" finds it."""
    q = tokens["quality"]
    _search(client, q, agent="smith", reviewed="false", channel="email")
    _search(client, q, party="+31612345678", q="modem")
    by_agent, by_party = archive.audit.events(action="search")[-2:]
    assert by_agent.detail["filters"] == {
        "channel": "email", "any_party": ["+31205550100", "smith@example.com"],
        "excluding_items": 1}
    assert by_party.detail["q"] == "modem"
    assert by_party.detail["filters"] == {"party": "+31612345678"}
    _search(client, q, q="modem")
    assert "filters" not in archive.audit.events(action="search")[-1].detail


def test_a_review_shows_in_the_next_search_without_a_reindex(
    client: TestClient, archive: Archive, tokens: dict[str, str], items: dict[str, str],
) -> None:
    q = tokens["quality"]
    card = scorecards.latest(archive)[0]
    review = reviews.start(archive, REVIEWER, items["other"], card.id)
    assert items["other"] in _search(client, q, reviewed="false")[1]  # started, not done
    reviews.submit(archive, REVIEWER, review,
                   {"greeting": "yes", "identify": "yes", "solved": "no"}, "")
    assert _search(client, q, reviewed="false") == (1, [items["queued"]])
    assert sorted(_search(client, q, reviewed="true")[1]) == sorted(
        [items["reviewed"], items["other"]])


def test_bad_filter_values_are_refused_naming_the_value(
    client: TestClient, tokens: dict[str, str], items: dict[str, str],
) -> None:
    who = bearer(tokens["quality"])
    error = assert_error(client.get("/api/v1/search", params={"agent": "nobody"}, headers=who),
                         400, "invalid_request")
    assert "'nobody'" in str(error["message"])
    error = assert_error(client.get("/api/v1/search", params={"queue": "policy:nope"},
                                    headers=who), 400, "invalid_request")
    assert "no monitoring policy named 'nope'" in str(error["message"])
    error = assert_error(client.get("/api/v1/search", params={"queue": "later"}, headers=who),
                         400, "invalid_request")
    assert "'later'" in str(error["message"])
    assert_error(client.get("/api/v1/search", params={"queue_status": "stuck"}, headers=who),
                 422, "invalid_request")


def test_review_and_queue_filters_are_the_quality_teams_and_agent_needs_parties(
    client: TestClient, tokens: dict[str, str], items: dict[str, str],
) -> None:
    for role in ("legal", "privacy", "trainer"):
        for params in ({"reviewed": "true"}, {"queue": "any"}, {"queue_status": "open"}):
            resp = client.get("/api/v1/search", params=params, headers=bearer(tokens[role]))
            error = assert_error(resp, 403, "wrong_role")
            assert "quality team" in str(error["message"]), role
    error = assert_error(client.get("/api/v1/search", params={"agent": "smith"},
                                    headers=bearer(tokens["trainer"])), 403, "wrong_role")
    assert "person" in str(error["message"])
    for role in ("admin", "agent"):
        assert_error(client.get("/api/v1/search", params={"agent": "smith"},
                                headers=bearer(tokens[role])), 403, "wrong_role")
    # Privacy and legal may search by party, so by agent too.
    for role in ("privacy", "legal"):
        total, found = _search(client, tokens[role], agent="smith")
        assert (total, sorted(found)) == (2, sorted([items["reviewed"], items["queued"]]))


def test_the_filter_choices_name_agents_only_to_roles_that_see_parties(
    client: TestClient, tokens: dict[str, str], items: dict[str, str],
) -> None:
    def choices(role: str) -> dict[str, Any]:
        resp = client.get("/api/v1/search/filters", headers=bearer(tokens[role]))
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    quality = choices("quality")
    assert quality["agents"] == [
        {"name": "jones", "team": None, "identifiers": ["jones@example.com"]},
        {"name": "smith", "team": "Blue", "identifiers": ["+31205550100", "smith@example.com"]}]
    assert quality["review_filters"] is True
    assert quality["queues"] == ["any", "sample", "policy", "manual", "calibration"]
    assert quality["queue_statuses"] == ["open", "in_review", "done"]
    trainer = choices("trainer")
    assert trainer["agents"] == [] and "smith" not in str(trainer)
    assert trainer["review_filters"] is False and trainer["queues"] == []
    legal = choices("legal")
    assert [a["name"] for a in legal["agents"]] == ["jones", "smith"]
    assert legal["review_filters"] is False and legal["queues"] == []


def test_a_filter_naming_too_many_items_asks_for_a_date_range(
    client: TestClient, tokens: dict[str, str], items: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(filters, "MAX_FILTER_IDS", 0)
    error = assert_error(client.get("/api/v1/search", params={"reviewed": "false"},
                                    headers=bearer(tokens["quality"])), 400, "invalid_request")
    assert "narrow it with a date range" in str(error["message"])
    # Within a window the set is resolved among the items of that window only.
    assert _search(client, tokens["quality"], reviewed="false",
                   until="2000-01-01T00:00:00Z") == (0, [])
