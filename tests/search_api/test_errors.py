"""One error shape for every refusal, each with its own code and status."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from archive.config import Role
from archive.service import Archive
from tests.conftest import email_item
from tests.search_api.conftest import assert_error, bearer


def test_refusals_each_have_their_own_code(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive.ingest(email_item()).item_id
    url = f"/api/v1/items/{item_id}/content"
    assert_error(client.get(url), 401, "unauthenticated")
    assert_error(client.get(url, headers=bearer("cma_bogus")), 401, "token_unknown")
    expired = archive.users.add("old", Role.QUALITY, expires_in=timedelta(seconds=1))
    with archive.catalog.write() as conn:
        from archive.catalog import users

        conn.execute(users.update().where(users.c.name == "old")
                     .values(expires_at=users.c.created_at))
    assert_error(client.get(url, headers=bearer(expired)), 401, "token_expired")
    assert_error(client.get(url, headers=bearer(tokens["ingest"])), 403, "wrong_role")
    assert_error(client.get(url, params={"purpose": "legal"}, headers=bearer(tokens["quality"])),
                  403, "purpose_not_held")
    archive.shred(item_id, purposes=["quality"])
    err = assert_error(client.get(url, headers=bearer(tokens["quality"])), 403,
                        "purpose_not_carried")
    assert err["item_id"] == item_id
    assert_error(client.get("/api/v1/items/nope/content", headers=bearer(tokens["legal"])),
                  404, "not_found")
    assert_error(client.get("/api/v1/search", params={"limit": 0},
                             headers=bearer(tokens["legal"])), 422, "invalid_request")
    assert client.get(url).headers["www-authenticate"] == "Bearer"
