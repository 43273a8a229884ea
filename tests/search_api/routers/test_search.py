"""Search: hits within the caller's purposes, pseudonymised for anonymised roles."""

from __future__ import annotations

from fastapi.testclient import TestClient

from archive.service import Archive
from tests.conftest import email_item
from tests.search_api.conftest import bearer


def test_trainer_sees_pseudonyms_not_addresses(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive.ingest(email_item(body="router advice", customer="kees@klant.nl")).item_id
    hits = client.get("/api/v1/search", params={"q": "router"},
                      headers=bearer(tokens["trainer"])).json()["items"]
    assert [h["id"] for h in hits] == [item_id]
    assert "kees@klant.nl" not in str(hits)
    meta = client.get(f"/api/v1/items/{item_id}", headers=bearer(tokens["trainer"])).json()
    assert "kees@klant.nl" not in str(meta)
    assert any(p["address"] == "[CUSTOMER-1]" for p in meta["parties"])
