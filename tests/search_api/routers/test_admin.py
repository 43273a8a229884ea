"""Admin listing: catalog state without content; parties for privacy staff only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from archive.service import Archive
from tests.conftest import email_item
from tests.search_api.conftest import assert_error, bearer


def test_parties_are_listed_for_privacy_staff_and_absent_for_admins(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive.ingest(email_item(customer="kees@klant.nl")).item_id
    admin = client.get("/api/v1/admin/items", headers=bearer(tokens["admin"]))
    assert admin.status_code == 200, admin.text
    [entry] = admin.json()["items"]
    assert entry["id"] == item_id and "parties" not in entry
    assert "kees@klant.nl" not in admin.text
    [entry] = client.get("/api/v1/admin/items", headers=bearer(tokens["privacy"])).json()["items"]
    assert {"role": "from", "address": "kees@klant.nl"} in entry["parties"]
    assert_error(client.get("/api/v1/admin/items", headers=bearer(tokens["quality"])), 403,
                 "wrong_role")
