"""Every route that returns anything of an item writes an audit event (issue: every read
is audited, not only content).

The table below is checked against the app's own route table, so a route added
later without an entry here fails ``test_every_route_is_in_the_audit_table``; a
route that shows nothing of an item says why instead of naming its event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from archive import approvals, holds, rights, training
from archive.approvals import ApprovalAction
from archive.config import Role
from archive.quality import agents, monitoring, queue, reviews, scorecards
from archive.service import Archive
from archive.users import User
from search_api.app import create_app
from tests.conftest import email_item
from tests.search_api.conftest import bearer
from tests.search_api.mail_samples import archive_html_mail
from tests.subjects import Subject, call_item, transcribe, wav_bytes

ANNA = Subject("anna@customer.nl", "+31612345678", "K-1001", "Anna")


@dataclass(frozen=True)
class Audited:
    """A call of the route, by ``role``, that must append an ``action`` event; ``about``
    names the fixture item (``item`` or ``call``) the event must list, if any."""

    role: str
    action: str
    url: str
    body: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    about: str | None = "item"


NOTHING_OF_AN_ITEM = "static page or script of the web UI"

ROUTES: dict[tuple[str, str], Audited | str] = {
    ("GET", "/healthz"): "liveness only",
    ("GET", "/readyz"): "readiness only",
    ("GET", "/metrics"): "counts of the index outbox, nothing of an item",
    ("GET", "/"): NOTHING_OF_AN_ITEM,
    ("GET", "/ui/app.js"): NOTHING_OF_AN_ITEM,
    ("GET", "/ui/common.js"): NOTHING_OF_AN_ITEM,
    ("GET", "/ui/app.css"): NOTHING_OF_AN_ITEM,
    ("GET", "/ui/docs.js"): NOTHING_OF_AN_ITEM,
    ("GET", "/ui/privacy-approvals.js"): NOTHING_OF_AN_ITEM,
    ("GET", "/ui/legal.js"): NOTHING_OF_AN_ITEM,
    ("GET", "/legal/holds"): NOTHING_OF_AN_ITEM,
    ("GET", "/legal/holds/new"): NOTHING_OF_AN_ITEM,
    ("GET", "/legal/holds/{hold_id}"): NOTHING_OF_AN_ITEM,
    ("GET", "/privacy/approvals"): NOTHING_OF_AN_ITEM,
    ("GET", "/privacy/approvals/{approval_id}"): NOTHING_OF_AN_ITEM,
    ("GET", "/privacy/subjects"): NOTHING_OF_AN_ITEM,
    ("GET", "/privacy/subjects/{identifier}"): NOTHING_OF_AN_ITEM,
    ("GET", "/ui/reader.js"): NOTHING_OF_AN_ITEM,
    ("GET", "/api/v1/search/filters"): "the caller's role's search choices, nothing of an item",
    ("GET", "/api/v1/items/{item_id}/message"): Audited("quality", "read",
                                                        "/api/v1/items/{item}/message"),
    ("GET", "/api/v1/items/{item_id}/attachments/{index}"): Audited(
        "quality", "read", "/api/v1/items/{mail}/attachments/0", about="mail"),
    ("GET", "/api/v1/items/{item_id}/waveform"): Audited(
        "quality", "read", "/api/v1/items/{call}/waveform", about="call"),
    ("GET", "/items/{item_id}"): NOTHING_OF_AN_ITEM,
    ("GET", "/docs"): "the API documentation page",
    ("GET", "/redoc"): "a redirect to the API documentation page",
    ("GET", "/docs/assets/{name}"): "Swagger UI's script and style",
    ("GET", "/api/v1/purposes/report"): "counts per purpose, no item or subject",
    ("GET", "/api/v1/audit/verify"): "the chain's length and first bad position only",
    ("GET", "/api/v1/search"): Audited("quality", "search", "/api/v1/search",
                                       params={"q": "router"}),
    ("GET", "/api/v1/items/{item_id}"): Audited("quality", "read_metadata",
                                                "/api/v1/items/{item}"),
    ("GET", "/api/v1/items/{item_id}/content"): Audited("quality", "read",
                                                        "/api/v1/items/{item}/content"),
    ("GET", "/api/v1/items/{item_id}/audio"): Audited(
        "quality", "read", "/api/v1/items/{call}/audio", about="call"),
    ("GET", "/api/v1/items/{item_id}/transcript"): Audited(
        "quality", "read", "/api/v1/items/{call}/transcript", about="call"),
    ("POST", "/api/v1/recordings"): Audited("ingest", "ingest", "/api/v1/recordings",
                                           about=None),
    ("POST", "/api/v1/sweep"): Audited("privacy", "sweep_preview", "/api/v1/sweep",
                                       body={"dry_run": True, "now": "2099-01-01T00:00:00Z"}),
    ("GET", "/api/v1/subjects/{identifier}"): Audited("privacy", "subject_lookup",
                                                      "/api/v1/subjects/{subject}"),
    ("GET", "/api/v1/subjects/{identifier}/export"): Audited(
        "privacy", "export", "/api/v1/subjects/{subject}/export"),
    ("GET", "/api/v1/subjects/{identifier}/vcon"): Audited(
        "privacy", "export", "/api/v1/subjects/{subject}/vcon"),
    ("POST", "/api/v1/subjects/{identifier}/erase"): Audited(
        "privacy", "approval_propose", "/api/v1/subjects/{subject}/erase", body={}),
    ("POST", "/api/v1/subjects/{identifier}/restrict"): Audited(
        "privacy", "restrict", "/api/v1/subjects/{subject}/restrict", body={"reason": "x"}),
    ("POST", "/api/v1/subjects/{identifier}/unrestrict"): Audited(
        "privacy", "approval_propose", "/api/v1/subjects/{subject}/unrestrict",
        body={"note": "informed"}, about=None),
    ("POST", "/api/v1/subjects/{identifier}/object"): Audited(
        "privacy", "approval_propose", "/api/v1/subjects/{subject}/object",
        body={"purposes": ["training"]}),
    ("POST", "/api/v1/items/{item_id}/annotations"): Audited(
        "privacy", "rectify", "/api/v1/items/{item}/annotations", body={"text": "note"}),
    ("POST", "/api/v1/disclosures"): Audited(
        "privacy", "disclosure", "/api/v1/disclosures",
        body={"item_ids": ["{item}"], "recipient": "court", "legal_basis": "order"}),
    ("GET", "/api/v1/disclosures"): Audited("privacy", "list_disclosures",
                                            "/api/v1/disclosures"),
    ("POST", "/api/v1/requests"): Audited(
        "privacy", "request_add", "/api/v1/requests", about=None,
        body={"kind": "access", "subject": "{subject}", "requested_by": "Anna"}),
    ("GET", "/api/v1/requests"): Audited("privacy", "list_requests", "/api/v1/requests",
                                         about=None),
    ("POST", "/api/v1/requests/{request_id}/close"): Audited(
        "privacy", "request_close", "/api/v1/requests/{request}/close", body={}, about=None),
    ("GET", "/privacy"): NOTHING_OF_AN_ITEM,
    ("GET", "/privacy/cases/new"): NOTHING_OF_AN_ITEM,
    ("GET", "/privacy/cases/{case_id}"): NOTHING_OF_AN_ITEM,
    ("GET", "/ui/privacy.js"): NOTHING_OF_AN_ITEM,
    ("POST", "/api/v1/cases"): Audited(
        "privacy", "case_opened", "/api/v1/cases", about=None,
        body={"kind": "access", "identifiers": ["{subject}"], "channel": "email",
              "requester": "Anna"}),
    ("GET", "/api/v1/cases"): Audited("privacy", "list_cases", "/api/v1/cases", about=None),
    ("GET", "/api/v1/cases/digest"): Audited("privacy", "list_cases", "/api/v1/cases/digest",
                                             about=None),
    ("GET", "/api/v1/cases/{case_id}"): Audited("privacy", "case_read",
                                                "/api/v1/cases/{looked}"),
    ("POST", "/api/v1/cases/{case_id}/verify"): Audited(
        "privacy", "case_verified", "/api/v1/cases/{case}/verify", about=None,
        body={"method": "id_document"}),
    ("POST", "/api/v1/cases/{case_id}/lookup"): Audited(
        "privacy", "case_looked_up", "/api/v1/cases/{looked}/lookup", body={}),
    ("POST", "/api/v1/cases/{case_id}/items/{item_id}/review"): Audited(
        "privacy", "case_reviewed", "/api/v1/cases/{looked}/items/{item}/review",
        body={"decision": "include"}),
    ("POST", "/api/v1/cases/{case_id}/extend"): Audited(
        "privacy", "case_extended", "/api/v1/cases/{case}/extend", about=None,
        body={"reason": "many items"}),
    ("POST", "/api/v1/cases/{case_id}/actions"): Audited(
        "privacy", "case_action", "/api/v1/cases/{looked}/actions",
        body={"action": "restriction", "item_ids": ["{item}"]}),
    ("GET", "/api/v1/cases/{case_id}/export"): Audited(
        "privacy", "export", "/api/v1/cases/{looked}/export"),
    ("POST", "/api/v1/cases/{case_id}/reply"): Audited(
        "privacy", "case_replied", "/api/v1/cases/{case}/reply", about=None,
        body={"text": "enclosed"}),
    ("POST", "/api/v1/cases/{case_id}/close"): Audited(
        "privacy", "case_closed", "/api/v1/cases/{case}/close", about=None,
        body={"outcome": "refused", "note": "manifestly unfounded"}),
    ("GET", "/api/v1/audit/events"): Audited("privacy", "list_audit", "/api/v1/audit/events",
                                             params={"item_id": "{item}"}),
    ("POST", "/api/v1/holds"): Audited(
        "legal", "hold_place", "/api/v1/holds",
        body={"reason": "case", "case_ref": "C-2", "item_ids": ["{item}"]}),
    ("GET", "/api/v1/holds"): Audited("legal", "list_holds", "/api/v1/holds", about="call"),
    ("GET", "/api/v1/holds/{hold_id}"): Audited("legal", "read_hold", "/api/v1/holds/{hold}",
                                                about="call"),
    ("POST", "/api/v1/holds/{hold_id}/lift"): Audited(
        "legal", "approval_propose", "/api/v1/holds/{hold}/lift", body={"note": "done"},
        about="call"),
    ("POST", "/api/v1/holds/preview"): Audited(
        "legal", "hold_preview", "/api/v1/holds/preview", body={"item_ids": ["{call}"]},
        about="call"),
    ("POST", "/api/v1/holds/{hold_id}/disclosures"): Audited(
        "legal", "disclosure", "/api/v1/holds/{hold}/disclosures",
        body={"recipient": "court", "legal_basis": "order"}, about="call"),
    ("GET", "/api/v1/holds/{hold_id}/disclosures"): Audited(
        "legal", "list_disclosures", "/api/v1/holds/{hold}/disclosures", about=None),
    ("POST", "/api/v1/evidence"): Audited(
        "legal", "evidence_export", "/api/v1/evidence", body={"hold_id": "{hold}"},
        about="call"),
    ("GET", "/api/v1/approvals"): Audited("privacy", "list_approvals", "/api/v1/approvals",
                                          about=None),
    ("GET", "/api/v1/approvals/{approval_id}"): Audited(
        "privacy", "read_approval", "/api/v1/approvals/{approval}", about=None),
    ("POST", "/api/v1/approvals/{approval_id}/approve"): Audited(
        "privacy", "erase", "/api/v1/approvals/{approval}/approve", body={}),
    ("POST", "/api/v1/approvals/{approval_id}/reject"): Audited(
        "privacy", "approval_reject", "/api/v1/approvals/{approval}/reject", body={}),
    ("POST", "/api/v1/admin/keys/{purpose}/versions/{version}/retire"):
        "proposes retiring a key version: the dry run counts keys, nothing of an item",
    ("GET", "/api/v1/admin/items"): Audited("admin", "list_items", "/api/v1/admin/items",
                                            about=None),
    ("GET", "/api/v1/admin/setup"): "which archive.toml settings still hold the example's",
    ("POST", "/api/v1/session"): Audited("quality", "sign_in", "/api/v1/session", about=None),
    ("GET", "/api/v1/session"): "the caller's own name and role",
    ("DELETE", "/api/v1/session"): "ends the caller's browser session",
    ("GET", "/training"): NOTHING_OF_AN_ITEM,
    ("GET", "/training/sets/new"): NOTHING_OF_AN_ITEM,
    ("GET", "/training/sets/{set_id}"): NOTHING_OF_AN_ITEM,
    ("GET", "/ui/training.js"): NOTHING_OF_AN_ITEM,
    ("POST", "/api/v1/training/sets"): Audited(
        "trainer", "training_set_build", "/api/v1/training/sets",
        body={"title": "t", "purpose": "p", "size": 5}),
    ("GET", "/api/v1/training/sets"): Audited("trainer", "list_training_sets",
                                              "/api/v1/training/sets"),
    ("GET", "/api/v1/training/sets/{set_id}"): Audited(
        "trainer", "training_set_preview", "/api/v1/training/sets/{set}"),
    ("GET", "/api/v1/training/sets/{set_id}/export"): Audited(
        "trainer", "training_set_export", "/api/v1/training/sets/{set}/export"),
    ("DELETE", "/api/v1/training/sets/{set_id}"): Audited(
        "trainer", "training_set_delete", "/api/v1/training/sets/{set}"),
    ("GET", "/quality/queue"): NOTHING_OF_AN_ITEM,
    ("GET", "/quality/reviews/{review_id}"): NOTHING_OF_AN_ITEM,
    ("GET", "/quality/scorecards"): NOTHING_OF_AN_ITEM,
    ("GET", "/quality/stats"): NOTHING_OF_AN_ITEM,
    ("GET", "/quality/backfills"): NOTHING_OF_AN_ITEM,
    ("GET", "/quality/backfills/{backfill_id}"): NOTHING_OF_AN_ITEM,
    ("GET", "/quality/calibration/{item_id}"): NOTHING_OF_AN_ITEM,
    ("GET", "/agent/reviews"): NOTHING_OF_AN_ITEM,
    ("GET", "/ui/quality.js"): NOTHING_OF_AN_ITEM,
    ("GET", "/api/v1/quality/scorecards"): "the scorecard forms: criteria and weights",
    ("GET", "/api/v1/quality/scorecards/{scorecard_id}"): "one scorecard form",
    ("POST", "/api/v1/quality/scorecards"): Audited(
        "quality", "quality_scorecard_save", "/api/v1/quality/scorecards", about=None,
        body={"name": "other", "sections": [{"title": "s", "criteria": [
            {"id": "greet", "label": "Greets"}]}]}),
    ("POST", "/api/v1/quality/reviews"): Audited(
        "quality", "quality_review_start", "/api/v1/quality/reviews",
        body={"item_id": "{fresh}", "scorecard_id": "{card}"}, about="fresh"),
    ("GET", "/api/v1/quality/reviews"): Audited(
        "quality", "quality_reviews_list", "/api/v1/quality/reviews", about="call"),
    ("GET", "/api/v1/quality/reviews/{review_id}"): Audited(
        "quality", "quality_review_read", "/api/v1/quality/reviews/{review}", about="call"),
    ("POST", "/api/v1/quality/reviews/{review_id}/submit"): Audited(
        "quality", "quality_review_submit", "/api/v1/quality/reviews/{draft}/submit",
        body={"answers": {"greet": "yes"}, "summary": "fine"}),
    ("POST", "/api/v1/quality/reviews/{review_id}/response"): Audited(
        "agent", "quality_review_disputed", "/api/v1/quality/reviews/{review}/response",
        body={"response": "disputed", "comment": "the customer hung up"}, about="call"),
    ("GET", "/api/v1/quality/items/{item_id}/comments"): Audited(
        "quality", "quality_comments_read", "/api/v1/quality/items/{call}/comments",
        about="call"),
    ("POST", "/api/v1/quality/items/{item_id}/comments"): Audited(
        "quality", "quality_comment", "/api/v1/quality/items/{call}/comments",
        body={"text": "greeting", "at_seconds": 0.5}, about="call"),
    ("PUT", "/api/v1/quality/agents/{user_name}"): Audited(
        "admin", "quality_agent_link", "/api/v1/quality/agents/agent-user",
        body={"identifiers": ["+31205550100"], "team": "north"}, about=None),
    ("GET", "/api/v1/quality/queue"): Audited(
        "quality", "quality_queue_read", "/api/v1/quality/queue"),
    ("POST", "/api/v1/quality/queue"): Audited(
        "quality", "quality_queue_add", "/api/v1/quality/queue", body={"item_id": "{call}"},
        about="call"),
    ("GET", "/api/v1/quality/queue/{entry_id}"): Audited(
        "quality", "quality_queue_read", "/api/v1/quality/queue/{entry}"),
    ("PATCH", "/api/v1/quality/queue/{entry_id}"): Audited(
        "quality", "quality_queue_update", "/api/v1/quality/queue/{entry}",
        body={"status": "in_review", "assignee": "quality-user"}),
    ("POST", "/api/v1/quality/sample"): Audited(
        "quality", "quality_sample", "/api/v1/quality/sample", about=None,
        body={"week": "{week}", "per_agent": 1, "seed": "s"}),
    ("GET", "/api/v1/quality/policies"): "the lexicon policies: phrases, nothing of an item",
    ("PUT", "/api/v1/quality/policies/{name}"): Audited(
        "quality", "quality_policy_save", "/api/v1/quality/policies/router", about=None,
        body={"lists": {"*": ["router"]}}),
    ("POST", "/api/v1/quality/backfills"): Audited(
        "quality", "quality_backfill_request", "/api/v1/quality/backfills", body={},
        about=None),
    ("GET", "/api/v1/quality/backfills"): "backfill requests: ranges, policies and counts",
    ("GET", "/api/v1/quality/backfills/{backfill_id}"): "one backfill request: its counts",
    ("GET", "/api/v1/quality/calibration/{item_id}"): Audited(
        "quality", "quality_review_read", "/api/v1/quality/calibration/{call}", about="call"),
    ("GET", "/api/v1/quality/stats"): Audited(
        "quality", "quality_stats", "/api/v1/quality/stats", about=None),
    ("GET", "/api/v1/quality/stats.csv"): Audited(
        "quality", "quality_stats", "/api/v1/quality/stats.csv", about=None),
}


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, its own docs pages aside."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.update((m, prefix + route.path) for m in route.methods if m != "HEAD")
            elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.116)
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif getattr(route, "path", "") not in ("/openapi.json", "/docs", "/redoc",
                                                    "/docs/oauth2-redirect"):
                raise AssertionError(f"unknown kind of route {route!r}")

    walk(list(app.routes), "")
    return found


def test_every_route_is_in_the_audit_table(archive: Archive) -> None:
    assert api_routes(create_app(archive)) == set(ROUTES)


@dataclass
class World:
    client: TestClient
    archive: Archive
    tokens: dict[str, str]
    ids: dict[str, str]


@pytest.fixture
def world(archive: Archive, tokens: dict[str, str]) -> Iterator[World]:
    now = datetime.now(UTC) - timedelta(days=1)
    item = archive.ingest(email_item(customer=ANNA.email, body="router question")).item_id
    call = archive.ingest(call_item(ANNA, started_at=now)).item_id
    transcribe(archive, call, "my router is broken")
    hold = holds.place_hold(archive, actor="legal-user", reason="r", case_ref="C-1",
                            item_ids=[call])
    request = rights.add_request(archive, kind="access", subject=ANNA.email,
                                 requested_by="Anna", verified_by=None, actor="privacy-user")
    rights.record_disclosure(archive, [item], recipient="police", legal_basis="warrant",
                             actor="privacy-user")
    erasure = approvals.propose(archive, ApprovalAction.ERASE, {"identifiers": [ANNA.email]},
                                actor="privacy-other", role=Role.PRIVACY)
    made = training.build_set(archive, User("trainer-user", Role.TRAINER), title="t",
                              purpose_text="p", criteria=training.Criteria(size=5))
    case = rights.open_case(archive, kind="access", identifiers=[ANNA.email], channel="email",
                            requester="Anna", actor="privacy-user")
    looked = rights.open_case(archive, kind="access", identifiers=[ANNA.email],
                              channel="email", requester="Anna", actor="privacy-user")["id"]
    rights.verify_identity(archive, looked, method="id_document", actor="privacy-user")
    for found in rights.lookup_case(archive, looked, actor="privacy-user")["items"]:
        rights.review_item(archive, looked, found["item_id"], decision="include",
                           actor="privacy-user")
    quality = User("quality-user", Role.QUALITY)
    card = scorecards.save(archive, name="basic", actor="quality-user", role="quality",
                           sections=[{"title": "s", "criteria": [
                               {"id": "greet", "label": "Greets"}]}])
    agents.link(archive, "agent-user", ["+31205550100"], team=None, actor="admin-user",
                role="admin")
    review = reviews.start(archive, quality, call, card.id, calibration=True)
    reviews.submit(archive, quality, review, {"greet": "yes"}, "fine")
    shown = reviews.start(archive, quality, call, card.id)
    reviews.submit(archive, quality, shown, {"greet": "partial"}, "ok")
    draft = reviews.start(archive, quality, item, card.id)
    fresh = archive.ingest(email_item(customer=ANNA.email, subject="Modem",
                                      body="modem question")).item_id
    entry = queue.add_manual(archive, quality, item)
    monitoring.save(archive, "router", {"lists": {"*": ["router"]}}, enabled=True,
                    actor="quality-user", role="quality")
    monday = (now - timedelta(days=now.weekday())).date()
    ids = {"item": item, "call": call, "subject": ANNA.email, "hold": str(hold.id),
           "request": str(request["id"]), "case": str(case["id"]), "looked": str(looked),
           "set": made.id, "card": str(card.id), "review": str(shown), "draft": str(draft),
           "entry": str(entry), "week": monday.isoformat(), "fresh": fresh,
           "approval": str(erasure.id), "mail": archive_html_mail(archive)}
    with TestClient(create_app(archive)) as client:
        yield World(client, archive, tokens, ids)


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


AUDITED = sorted((k, v) for k, v in ROUTES.items() if isinstance(v, Audited))


@pytest.mark.parametrize(("route", "case"), AUDITED, ids=[f"{m} {p}" for (m, p), _ in AUDITED])
def test_route_that_returns_item_data_writes_its_audit_event(
    world: World, route: tuple[str, str], case: Audited
) -> None:
    method, _path = route
    before = max((e.seq for e in world.archive.audit.events(limit=1)), default=0)
    headers = bearer(world.tokens[case.role])
    url = _fill(case.url, world.ids)
    if route == ("POST", "/api/v1/recordings"):
        resp = world.client.post(url, headers=headers, files={
            "audio": ("call.wav", wav_bytes(), "audio/wav")}, data={"metadata": json.dumps({
                "call_id": "audit-1", "from": "+31687654321", "to": "+31205550100",
                "agent": "+31205550100", "direction": "inbound",
                "start": "2026-11-02T09:00:00Z"})})
    else:
        resp = world.client.request(method, url, headers=headers,
                                    params=_fill(case.params, world.ids),
                                    json=_fill(case.body, world.ids))
    assert resp.status_code < 300, resp.text
    events = [e for e in world.archive.audit.events(limit=100) if e.seq > before]
    matching = [e for e in events if e.action == case.action]
    assert matching, f"{method} {url} wrote {[e.action for e in events]}, not {case.action}"
    if case.about:  # listed, or named in the detail (e.g. an item erasure kept, and why)
        wanted = world.ids[case.about]
        assert any(wanted in e.item_ids or wanted in json.dumps(e.detail)
                   for e in matching), matching
