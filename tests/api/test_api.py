"""The HTTP API: search, items, content, and one error shape for every refusal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from archive.config import Role
from archive.service import Archive
from archive.vault import blob_key
from search_api.app import create_app
from tests.conftest import email_item


@pytest.fixture
def client(archive: Archive) -> Iterator[TestClient]:
    with TestClient(create_app(archive)) as c:
        yield c


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_error(resp: Any, status: int, code: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


def test_healthz_reports_each_component(client: TestClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"catalog": "ok", "store": "ok", "index": "ok", "ok": True}


def test_search_item_and_exact_original_for_quality(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item = email_item(subject="Outage in Utrecht", body="The fibre line is down since Monday")
    item_id = archive.ingest(item).item_id
    resp = client.get("/api/v1/search", params={"q": "fibre monday"},
                      headers=_auth(tokens["quality"]))
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] == 1
    hit = body["items"][0]
    assert hit["id"] == item_id and hit["channel"] == "email"
    assert "<mark>fibre</mark>" in hit["snippet"]
    assert {"id", "channel", "started_at", "parties", "purposes", "snippet"} <= set(hit)
    meta = client.get(f"/api/v1/items/{item_id}", headers=_auth(tokens["quality"])).json()
    assert meta["details"]["subject"] == "Outage in Utrecht"
    assert meta["read_through"] == "quality"
    content = client.get(f"/api/v1/items/{item_id}/content", headers=_auth(tokens["quality"]))
    assert content.status_code == 200
    assert content.content == item.original
    assert content.headers["content-type"].startswith("message/rfc822")


def test_refusals_each_have_their_own_code(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive.ingest(email_item()).item_id
    url = f"/api/v1/items/{item_id}/content"
    _assert_error(client.get(url), 401, "unauthenticated")
    _assert_error(client.get(url, headers=_auth("cma_bogus")), 401, "token_unknown")
    expired = archive.users.add("old", Role.QUALITY, expires_in=timedelta(seconds=1))
    with archive.catalog.write() as conn:
        from archive.catalog import users

        conn.execute(users.update().where(users.c.name == "old")
                     .values(expires_at=users.c.created_at))
    _assert_error(client.get(url, headers=_auth(expired)), 401, "token_expired")
    _assert_error(client.get(url, headers=_auth(tokens["ingest"])), 403, "wrong_role")
    _assert_error(client.get(url, params={"purpose": "legal"}, headers=_auth(tokens["quality"])),
                  403, "purpose_not_held")
    archive.shred(item_id, purposes=["quality"])
    err = _assert_error(client.get(url, headers=_auth(tokens["quality"])), 403,
                        "purpose_not_carried")
    assert err["item_id"] == item_id
    _assert_error(client.get("/api/v1/items/nope/content", headers=_auth(tokens["legal"])),
                  404, "not_found")
    _assert_error(client.get("/api/v1/search", params={"limit": 0},
                             headers=_auth(tokens["legal"])), 422, "invalid_request")
    assert client.get(url).headers["www-authenticate"] == "Bearer"


def test_tampered_blob_answers_integrity_error_naming_the_item(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive.ingest(email_item()).item_id
    path = archive.data_dir / "blobs" / blob_key(item_id, "original")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    err = _assert_error(client.get(f"/api/v1/items/{item_id}/content",
                                   headers=_auth(tokens["quality"])), 500, "integrity_error")
    assert item_id in str(err["message"])


def test_trainer_sees_pseudonyms_not_addresses(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive.ingest(email_item(body="router advice", customer="kees@klant.nl")).item_id
    hits = client.get("/api/v1/search", params={"q": "router"},
                      headers=_auth(tokens["trainer"])).json()["items"]
    assert [h["id"] for h in hits] == [item_id]
    assert "kees@klant.nl" not in str(hits)
    meta = client.get(f"/api/v1/items/{item_id}", headers=_auth(tokens["trainer"])).json()
    assert "kees@klant.nl" not in str(meta)
    assert any(p["address"] == "[CUSTOMER-1]" for p in meta["parties"])


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/search", "/api/v1/items/{item_id}", "/api/v1/items/{item_id}/content",
            "/healthz"} <= set(paths)


def test_item_read_through_an_anonymised_purpose_hides_parties_for_any_role(
    tmp_path: Any,
) -> None:
    # A role holding a plain and an anonymised purpose reads an item that carries only
    # the anonymised one: parties and disclosures are withheld, like the details.
    from archive.config import LawfulBasis, Purpose, TaggingRule
    from tests.conftest import TEST_CONFIG, make_archive

    coaching = Purpose(name="coaching", lawful_basis=LawfulBasis.LEGITIMATE_INTEREST,
                       retention_days=30, roles=(Role.QUALITY,), anonymised=True)
    config = TEST_CONFIG.model_copy(update={
        "purposes": (*TEST_CONFIG.purposes, coaching),
        "rules": (TaggingRule(purposes=("coaching", "legal")),)})
    archive = make_archive(tmp_path / "data", config=config)
    try:
        token = archive.users.add("q", Role.QUALITY)
        item_id = archive.ingest(email_item(customer="jan@customer.nl")).item_id
        with TestClient(create_app(archive)) as c:
            body = c.get(f"/api/v1/items/{item_id}", headers=_auth(token)).json()
        assert body["read_through"] == "coaching"
        assert "jan@customer.nl" not in str(body)
    finally:
        archive.close()
