"""Items: metadata as the purpose allows, the exact original, integrity failures."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from archive.config import Role
from archive.service import Archive
from archive.vault import blob_key
from search_api.app import create_app
from tests.conftest import email_item
from tests.search_api.conftest import assert_error, bearer


def test_search_item_and_exact_original_for_quality(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item = email_item(subject="Outage in Utrecht", body="The fibre line is down since Monday")
    item_id = archive.ingest(item).item_id
    resp = client.get("/api/v1/search", params={"q": "fibre monday"},
                      headers=bearer(tokens["quality"]))
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] == 1
    hit = body["items"][0]
    assert hit["id"] == item_id and hit["channel"] == "email"
    assert "<mark>fibre</mark>" in hit["snippet"]
    assert {"id", "channel", "started_at", "parties", "purposes", "snippet"} <= set(hit)
    meta = client.get(f"/api/v1/items/{item_id}", headers=bearer(tokens["quality"])).json()
    assert meta["details"]["subject"] == "Outage in Utrecht"
    assert meta["read_through"] == "quality"
    content = client.get(f"/api/v1/items/{item_id}/content", headers=bearer(tokens["quality"]))
    assert content.status_code == 200
    assert content.content == item.original
    assert content.headers["content-type"].startswith("message/rfc822")


def test_tampered_blob_answers_integrity_error_naming_the_item(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive.ingest(email_item()).item_id
    path = archive.data_dir / "blobs" / blob_key(item_id, "original")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    err = assert_error(client.get(f"/api/v1/items/{item_id}/content",
                                   headers=bearer(tokens["quality"])), 500, "integrity_error")
    assert item_id in str(err["message"])


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
            body = c.get(f"/api/v1/items/{item_id}", headers=bearer(token)).json()
        assert body["read_through"] == "coaching"
        assert "jan@customer.nl" not in str(body)
    finally:
        archive.close()
