"""/api/v1/cases: a whole access request through the HTTP API, roles and error shape."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from archive.config import Role
from archive.service import Archive
from search_api.app import create_app
from tests.subjects import A, Mixed


@pytest.fixture
def client(mixed: Mixed) -> Iterator[TestClient]:
    with TestClient(create_app(mixed.archive)) as c:
        yield c


@pytest.fixture
def auth(parch: Archive) -> dict[str, dict[str, str]]:
    return {r.value: {"Authorization": f"Bearer {parch.users.add(f'{r.value}-api', r)}"}
            for r in Role}


def test_case_routes_are_documented_with_their_models(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path in ("/api/v1/cases", "/api/v1/cases/digest", "/api/v1/cases/{case_id}",
                 "/api/v1/cases/{case_id}/verify", "/api/v1/cases/{case_id}/lookup",
                 "/api/v1/cases/{case_id}/items/{item_id}/review",
                 "/api/v1/cases/{case_id}/extend", "/api/v1/cases/{case_id}/actions",
                 "/api/v1/cases/{case_id}/export", "/api/v1/cases/{case_id}/reply",
                 "/api/v1/cases/{case_id}/close", "/api/v1/requests"):
        assert path in doc["paths"], path
    ok = doc["paths"]["/api/v1/cases/{case_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/CasePublic")


def test_access_request_through_the_api(
    client: TestClient, mixed: Mixed, auth: dict[str, dict[str, str]],
) -> None:
    dpo = auth["privacy"]
    for role in ("quality", "legal", "admin", "trainer"):
        refused = client.post("/api/v1/cases", headers=auth[role], json={
            "kind": "access", "identifiers": [A.email], "channel": "email", "requester": "A"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "wrong_role"
    resp = client.post("/api/v1/cases", headers=dpo, json={
        "kind": "access", "identifiers": [A.email, A.customer_number], "channel": "web_form",
        "requester": "Anna de Vries"})
    assert resp.status_code == 201, resp.text
    case = resp.json()
    case_id = case["id"]
    assert case["stage"] == "verify identity" and case["requester"] == "Anna de Vries"
    early = client.post(f"/api/v1/cases/{case_id}/lookup", headers=dpo)
    assert early.status_code == 409 and early.json()["error"]["code"] == "conflict"
    assert "verify the person's identity" in early.json()["error"]["message"]

    client.post(f"/api/v1/cases/{case_id}/verify", headers=dpo,
                json={"method": "account_details", "note": "customer number and address"})
    case = client.post(f"/api/v1/cases/{case_id}/lookup", headers=dpo).json()
    ids = [i["item_id"] for i in case["items"]]
    assert set(ids) == set(mixed.items[A.email])
    assert all(i["channel"] in ("email", "call") and i["parties"] for i in case["items"])
    bad = client.post(f"/api/v1/cases/{case_id}/items/{ids[0]}/review", headers=dpo,
                      json={"decision": "exclude"})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == f"item {ids[0]}: to exclude it, give a reason"
    unknown = client.post(f"/api/v1/cases/{case_id}/items/nope/review", headers=dpo,
                          json={"decision": "include"})
    assert unknown.status_code == 404
    pending = client.get(f"/api/v1/cases/{case_id}/export", headers=dpo)
    assert pending.status_code == 409 and "await a decision" in pending.text

    client.post(f"/api/v1/cases/{case_id}/items/{ids[0]}/review", headers=dpo,
                json={"decision": "exclude", "reason": "not about the customer"})
    for item_id in ids[1:]:
        client.post(f"/api/v1/cases/{case_id}/items/{item_id}/review", headers=dpo,
                    json={"decision": "include"})
    export = client.get(f"/api/v1/cases/{case_id}/export", headers=dpo)
    assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(export.content)) as zf:
        index = json.loads(zf.read("index.json"))
        assert "cover_letter.txt" in zf.namelist()
    assert {i["id"] for i in index["items"]} == set(ids[1:])

    action = client.post(f"/api/v1/cases/{case_id}/actions", headers=dpo,
                         json={"action": "restriction", "detail": {"items": 2}})
    assert action.status_code == 201
    client.post(f"/api/v1/cases/{case_id}/reply", headers=dpo, json={"text": "Enclosed."})
    closed = client.post(f"/api/v1/cases/{case_id}/close", headers=dpo,
                         json={"outcome": "done"}).json()
    assert closed["status"] == "closed" and closed["outcome"] == "done"
    assert [e["action"] for e in closed["events"] if e["step"] == "action"] == [
        "export", "restriction"]
    assert client.get("/api/v1/cases", headers=dpo).json() == []
    assert [c["id"] for c in client.get("/api/v1/cases", params={"status": "closed"},
                                        headers=dpo).json()] == [case_id]
    again = client.post(f"/api/v1/cases/{case_id}/reply", headers=dpo, json={"text": "x"})
    assert again.status_code == 409
    assert client.get("/api/v1/cases/999", headers=dpo).status_code == 404
    for role in ("admin", "legal", "quality"):  # a case names the person: privacy only
        for path in ("/api/v1/cases", "/api/v1/cases/digest", f"/api/v1/cases/{case_id}",
                     f"/api/v1/cases/{case_id}/export"):
            assert client.get(path, headers=auth[role]).status_code == 403, (role, path)


def test_digest_and_bad_intake(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    dpo = auth["privacy"]
    old = client.post("/api/v1/cases", headers=dpo, json={
        "kind": "erasure", "identifiers": [A.phone], "channel": "letter", "requester": "A",
        "received_at": "2020-01-01T00:00:00Z"}).json()
    digest = client.get("/api/v1/cases/digest", headers=dpo).json()
    assert [c["id"] for c in digest["overdue"]] == [old["id"]] and digest["open"] == 1
    bad = client.post("/api/v1/cases", headers=dpo, json={
        "kind": "access", "identifiers": ["Anna"], "channel": "email", "requester": "A"})
    assert bad.status_code == 400 and "'Anna' is not a data-subject identifier" in bad.text
    late = client.post(f"/api/v1/cases/{old['id']}/extend", headers=dpo,
                       json={"reason": "complex"})
    assert late.status_code == 409 and "first month" in late.text
