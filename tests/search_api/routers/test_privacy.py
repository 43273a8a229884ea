"""The privacy and holds routes under /api/v1, end to end through the HTTP API."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from archive.config import Role
from archive.service import Archive
from search_api.app import create_app
from tests.subjects import A, B, C, Mixed, wav_bytes


@pytest.fixture
def client(mixed: Mixed) -> Iterator[TestClient]:
    with TestClient(create_app(mixed.archive)) as c:
        yield c


@pytest.fixture
def auth(parch: Archive) -> dict[str, dict[str, str]]:
    return {r.value: {"Authorization": f"Bearer {parch.users.add(f'{r.value}-api', r)}"}
            for r in Role}


@pytest.fixture
def approve(client: TestClient, parch: Archive) -> Callable[[Any], Any]:
    """Destructive requests are proposals (``202``): a second user of the role approves
    them, and this answers the action's result as the request used to."""
    second = {r.value: {"Authorization": f"Bearer {parch.users.add(f'{r.value}-second', r)}"}
              for r in Role}

    def run(proposal: Any) -> Any:
        assert proposal.status_code == 202, proposal.text
        body = proposal.json()
        done = client.post(f"/api/v1/approvals/{body['approval_id']}/approve",
                           headers=second[body["required_role"]])
        assert done.status_code == 200, done.text
        return done.json()["result"]

    return run


def test_routes_are_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/subjects/{identifier}/export", "/api/v1/subjects/{identifier}/erase",
                 "/api/v1/sweep", "/api/v1/holds", "/api/v1/holds/{hold_id}/lift",
                 "/api/v1/requests", "/api/v1/audit/verify", "/api/v1/purposes/report"):
        assert path in paths, path


def test_export_streams_a_zip_of_only_the_subjects_items(
    client: TestClient, mixed: Mixed, auth: dict[str, dict[str, str]],
) -> None:
    resp = client.get(f"/api/v1/subjects/{A.email}/export",
                      params={"also": [A.phone, A.customer_number]}, headers=auth["privacy"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        index = json.loads(zf.read("index.json"))
    assert {i["id"] for i in index["items"]} == set(mixed.items[A.email])
    refused = client.get(f"/api/v1/subjects/{A.email}/export", headers=auth["quality"])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "wrong_role"
    vcons = client.get(f"/api/v1/subjects/{B.phone.replace('+', '%2B')}/vcon",
                       headers=auth["privacy"]).json()
    assert len(vcons) == 1 and vcons[0]["dialog"][0]["type"] == "recording"


def test_hold_then_erase_then_sweep_through_the_api(
    client: TestClient, mixed: Mixed, auth: dict[str, dict[str, str]],
    approve: Callable[[Any], Any],
) -> None:
    c_items = mixed.items[C.email]
    resp = client.post("/api/v1/holds", json={"item_ids": [c_items[0]], "reason": "claim",
                                              "case_ref": "K-9"}, headers=auth["legal"])
    assert resp.status_code == 201, resp.text
    hold = resp.json()
    assert client.post("/api/v1/holds", json={"subject": C.email, "reason": "x",
                                              "case_ref": "y"},
                       headers=auth["privacy"]).status_code == 403
    cert = approve(client.post(f"/api/v1/subjects/{C.email}/erase", json={"also": [C.phone]},
                               headers=auth["privacy"]))
    assert {k["item_id"] for k in cert["kept"]} == {c_items[0]}
    assert {e["item_id"] for e in cert["erased"]} == set(c_items[1:])
    gone = client.get(f"/api/v1/items/{c_items[1]}", headers=auth["privacy"])
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "gone"
    later = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    refused = client.post("/api/v1/sweep", json={"dry_run": False, "now": later},
                          headers=auth["privacy"])
    assert refused.status_code == 400
    dry = client.post("/api/v1/sweep", json={"dry_run": True, "now": later},
                      headers=auth["privacy"]).json()
    assert c_items[0] in dry["held"]
    lifted = approve(client.post(f"/api/v1/holds/{hold['id']}/lift", json={"note": "settled"},
                                 headers=auth["legal"]))
    assert lifted["active"] is False
    events = client.get("/api/v1/audit/events", params={"subject": C.email},
                        headers=auth["privacy"]).json()
    assert "erase" in [e["action"] for e in events]
    assert client.get("/api/v1/audit/verify", headers=auth["privacy"]).json()["ok"] is True


def test_restrict_object_annotate_disclose_requests_through_the_api(
    client: TestClient, mixed: Mixed, auth: dict[str, dict[str, str]],
    approve: Callable[[Any], Any],
) -> None:
    b_mail = mixed.items[B.email][0]
    r = client.post(f"/api/v1/subjects/{B.email}/restrict", json={"reason": "contested"},
                    headers=auth["privacy"])
    assert r.status_code == 200 and b_mail in r.json()["restricted"]
    denied = client.get(f"/api/v1/items/{b_mail}", headers=auth["quality"])
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "restricted"
    bad = client.post(f"/api/v1/subjects/{B.email}/unrestrict", json={"note": ""},
                      headers=auth["privacy"])
    assert bad.status_code == 422
    approve(client.post(f"/api/v1/subjects/{B.email}/unrestrict",
                        json={"note": "told by mail"}, headers=auth["privacy"]))
    assert client.get(f"/api/v1/items/{b_mail}", headers=auth["quality"]).status_code == 200
    d = client.post("/api/v1/disclosures", json={"item_ids": [b_mail], "recipient": "Police",
                                                 "legal_basis": "order"},
                    headers=auth["legal"])
    assert d.status_code == 201
    a = client.post(f"/api/v1/items/{b_mail}/annotations", json={"text": "fixed"},
                    headers=auth["privacy"])
    assert a.status_code == 201 and a.json()["recipients_to_notify"][0]["recipient"] == "Police"
    item = client.get(f"/api/v1/items/{b_mail}", headers=auth["quality"]).json()
    assert item["annotations"][0]["text"] == "fixed"
    o = approve(client.post(f"/api/v1/subjects/{B.email}/object",
                            json={"purposes": ["training"]}, headers=auth["privacy"]))
    assert {d["purpose"] for d in o["dropped"]} == {"training"}
    req = client.post("/api/v1/requests", json={
        "kind": "access", "subject": A.email, "requested_by": "Anna",
        "received_at": (datetime.now(UTC) - timedelta(days=45)).isoformat()},
        headers=auth["privacy"])
    assert req.status_code == 201
    overdue = client.get("/api/v1/requests", params={"overdue": True},
                         headers=auth["privacy"]).json()
    assert [r["id"] for r in overdue] == [req.json()["id"]]
    closed = client.post(f"/api/v1/requests/{req.json()['id']}/close", json={"note": "sent"},
                         headers=auth["privacy"]).json()
    assert closed["status"] == "done"
    report = client.get("/api/v1/purposes/report", headers=auth["privacy"]).json()
    assert {r["purpose"] for r in report} == {"quality", "training", "order", "legal"}


def test_keys_only_some_answers_carry_are_absent_not_null(
    client: TestClient, mixed: Mixed, auth: dict[str, dict[str, str]],
    approve: Callable[[Any], Any],
) -> None:
    # GIVEN A's order e-mail kept for a legal obligation, WHEN A is erased, THEN only that
    # kept entry names the purposes kept and erased; an objection's kept entries likewise.
    cert = approve(client.post(f"/api/v1/subjects/{A.email}/erase", json={"also": [A.phone]},
                               headers=auth["privacy"]))
    kept = {k["item_id"]: k for k in cert["kept"]}
    assert kept[mixed.a_order]["reason"] == "legal_obligation"
    assert kept[mixed.a_order]["kept_purposes"] == ["legal"]
    assert all("kept_purposes" not in k and "purposes_erased" not in k
               for k in cert["kept"] if k["reason"] != "legal_obligation")
    assert all(set(e) == {"item_id", "channel", "started_at", "match"} for e in cert["erased"])
    objection = approve(client.post(f"/api/v1/subjects/{B.email}/object", json={},
                                    headers=auth["privacy"]))
    assert objection["kept"] == []
    assert set(objection) == {"subject", "purposes", "dry_run", "dropped", "purged", "kept",
                              "audit_seq"}


@pytest.mark.parametrize("bad", ["2026", "jansen"])
def test_a_vague_identifier_is_refused_with_a_clear_error_by_every_subject_route(
    client: TestClient, auth: dict[str, dict[str, str]], bad: str,
) -> None:
    privacy = auth["privacy"]
    answers = [
        client.get(f"/api/v1/subjects/{bad}", headers=privacy),
        client.get(f"/api/v1/subjects/{bad}/export", headers=privacy),
        client.post(f"/api/v1/subjects/{bad}/erase", json={}, headers=privacy),
        client.post(f"/api/v1/subjects/{bad}/restrict", json={"reason": "x"}, headers=privacy),
        client.post(f"/api/v1/subjects/{bad}/object", json={}, headers=privacy),
        client.get(f"/api/v1/subjects/{A.email}", params={"also": [bad]}, headers=privacy),
        client.post("/api/v1/holds", json={"subject": bad, "reason": "claim", "case_ref": "C"},
                    headers=auth["legal"]),
    ]
    for resp in answers:
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert error["code"] == "invalid_request"
        assert repr(bad) in error["message"] and "customer number" in error["message"]


def test_erasure_and_objection_dry_runs_through_the_api(
    client: TestClient, mixed: Mixed, auth: dict[str, dict[str, str]],
) -> None:
    dry = client.post(f"/api/v1/subjects/{C.email}/erase", json={"dry_run": True},
                      headers=auth["privacy"]).json()
    assert dry["dry_run"] is True
    assert {e["item_id"] for e in dry["erased"]} == set(mixed.items[C.email][:2])
    obj = client.post(f"/api/v1/subjects/{B.email}/object", json={"dry_run": True},
                      headers=auth["privacy"]).json()
    assert obj["dry_run"] is True and set(obj["purged"]) == set(mixed.items[B.email][:2])
    for item_id in mixed.items[B.email] + mixed.items[C.email]:
        assert client.get(f"/api/v1/items/{item_id}",
                          headers=auth["quality"]).status_code == 200
    actions = [e["action"] for e in client.get(
        "/api/v1/audit/events", params={"subject": C.email}, headers=auth["privacy"]).json()]
    assert "erase_dry_run" in actions and "erase" not in actions


def test_sweep_reports_restricted_items_through_the_api(
    client: TestClient, mixed: Mixed, auth: dict[str, dict[str, str]],
) -> None:
    client.post(f"/api/v1/subjects/{B.email}/restrict",
                json={"reason": "contested", "also": [B.phone]}, headers=auth["privacy"])
    later = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    dry = client.post("/api/v1/sweep", json={"dry_run": True, "now": later},
                      headers=auth["privacy"]).json()
    assert set(dry["restricted"]) == set(mixed.items[B.email])
    assert not set(dry["purged"]) & set(mixed.items[B.email])


def test_a_legal_hold_by_subject_lists_only_items_legal_may_see(
    client: TestClient, mixed: Mixed, auth: dict[str, dict[str, str]],
) -> None:
    resp = client.post("/api/v1/holds", json={"subject": A.email, "reason": "claim",
                                              "case_ref": "C-4"}, headers=auth["legal"])
    assert resp.status_code == 201, resp.text
    assert resp.json()["item_ids"] == [mixed.a_order]
    listed = client.get("/api/v1/holds", headers=auth["legal"]).json()
    assert listed[0]["item_ids"] == [mixed.a_order]


def test_an_upload_refused_by_a_standing_objection_answers_409_objected(
    client: TestClient, auth: dict[str, dict[str, str]], approve: Callable[[Any], Any],
) -> None:
    """Not 400: the request is well formed; the archive's state (Art. 21) refuses it."""
    approve(client.post(f"/api/v1/subjects/{C.phone}/object", json={}, headers=auth["privacy"]))
    resp = client.post("/api/v1/recordings", headers=auth["ingest"], files={
        "audio": ("call.wav", wav_bytes(), "audio/wav")}, data={"metadata": json.dumps({
            "call_id": "objected-1", "from": C.phone, "to": "+31205550100",
            "agent": "+31205550100", "direction": "inbound", "start": "2026-11-02T09:00:00Z"})})
    assert resp.status_code == 409, resp.text
    error = resp.json()["error"]
    assert error["code"] == "objected" and "objected to every purpose" in error["message"]
