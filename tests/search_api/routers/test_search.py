"""Search: hits within the caller's purposes, pseudonymised for anonymised roles."""

from __future__ import annotations

from typing import Any

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


def test_trainer_cannot_find_a_customer_by_name_in_parties_or_body(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    by_party = archive.ingest(email_item(body="my router blinks red",
                                         customer="piet.jansen@klant.nl")).item_id
    by_body = archive.ingest(email_item(body="this is Jan again, the router blinks red",
                                        customer="jan@customer.nl")).item_id
    trainer, quality = bearer(tokens["trainer"]), bearer(tokens["quality"])

    def found(q: str, who: dict[str, str]) -> list[str]:
        resp = client.get("/api/v1/search", params={"q": q}, headers=who)
        assert resp.status_code == 200, resp.text
        return sorted(h["id"] for h in resp.json()["items"])

    assert found("jansen", quality) == [by_party]  # the parties field, for quality
    assert found("jansen", trainer) == []
    assert found("klant", trainer) == []
    assert found("jan", trainer) == []  # the customer's name written in the body
    assert found("router blinks", trainer) == sorted([by_party, by_body])
    assert "Jan" not in str(client.get("/api/v1/search", params={"q": "router"},
                                       headers=trainer).json())


def test_a_role_with_a_plain_and_an_anonymised_purpose_searches_the_latter_redacted(
    tmp_path: Any,
) -> None:
    from archive.config import LawfulBasis, Purpose, Role, TaggingRule
    from search_api.app import create_app
    from tests.conftest import TEST_CONFIG, make_archive

    coaching = Purpose(name="coaching", lawful_basis=LawfulBasis.LEGITIMATE_INTEREST,
                       retention_days=30, roles=(Role.QUALITY,), anonymised=True)
    config = TEST_CONFIG.model_copy(update={
        "purposes": (*TEST_CONFIG.purposes, coaching),
        "rules": (TaggingRule(purposes=("coaching", "legal")),)})
    archive = make_archive(tmp_path / "data", config=config)
    try:
        token = bearer(archive.users.add("q", Role.QUALITY))
        item_id = archive.ingest(email_item(body="modem broken, regards Jan",
                                            customer="jan.smit@klant.nl")).item_id
        with TestClient(create_app(archive)) as c:
            def hits(**params: str) -> list[dict[str, Any]]:
                resp = c.get("/api/v1/search", params=params, headers=token)
                assert resp.status_code == 200, resp.text
                return list(resp.json()["items"])

            assert hits(q="smit") == [] and hits(q="modem") == []  # not read in full
            assert hits(q="smit", purpose="coaching") == []
            found = hits(q="modem", purpose="coaching")
            assert [h["id"] for h in found] == [item_id]
            assert "Jan" not in str(found) and "smit" not in str(found)
    finally:
        archive.close()


def test_a_search_matching_more_than_ten_thousand_items_says_so(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    from datetime import UTC, datetime

    from archive.index import EXACT_TOTAL_LIMIT
    from tests.conftest import index_doc

    ours = archive.ingest(email_item(body="router router router quokka")).item_id
    # Index entries without catalog rows stand in for a large archive (never shown).
    old = datetime(2020, 1, 1, tzinfo=UTC)
    archive.index.upsert([index_doc(f"bulk{n}", text="a router in a longer text",  # type: ignore[misc]
                                    started_at=old) for n in range(EXACT_TOTAL_LIMIT)])
    body = client.get("/api/v1/search", params={"q": "router", "limit": 1},
                      headers=bearer(tokens["quality"])).json()
    assert (body["total"], body["total_is_lower_bound"]) == (EXACT_TOTAL_LIMIT, True)
    assert [h["id"] for h in body["items"]] == [ours]
    exact = client.get("/api/v1/search", params={"q": "router quokka"},
                       headers=bearer(tokens["quality"])).json()
    assert (exact["total"], exact["total_is_lower_bound"]) == (1, False)


def test_filters_by_direction_dates_and_party_with_pagination_and_counts(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    import dataclasses
    from datetime import UTC, datetime

    from archive.model import Direction

    def mail(n: int, direction: Direction, day: int) -> str:
        item = email_item(body=f"outage report number {n}", customer=f"klant{n}@klant.nl",
                          started_at=datetime(2026, 11, day, 9, tzinfo=UTC))
        return archive.ingest(dataclasses.replace(item, direction=direction)).item_id

    inbound = [mail(n, Direction.INBOUND, n + 1) for n in range(5)]
    outbound = mail(9, Direction.OUTBOUND, 3)
    quality = bearer(tokens["quality"])

    def search(**params: Any) -> dict[str, Any]:
        resp = client.get("/api/v1/search", params={"q": "outage", **params}, headers=quality)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    assert [h["id"] for h in search(direction="outbound")["items"]] == [outbound]
    # Pages of two, newest first, with the total on every page
    pages = [search(direction="inbound", limit=2, offset=o) for o in (0, 2, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [h["id"] for p in pages for h in p["items"]] == inbound[::-1]
    window = search(since="2026-11-02T00:00:00Z", until="2026-11-04T00:00:00Z",
                    direction="inbound")
    assert sorted(h["id"] for h in window["items"]) == sorted(inbound[1:3])
    assert "<mark>outage</mark>" in window["items"][0]["snippet"]
    assert [h["id"] for h in search(party="klant2@klant.nl")["items"]] == [inbound[2]]
    bad = client.get("/api/v1/search", params={"direction": "sideways"}, headers=quality)
    assert bad.status_code == 422
    # A trainer may not narrow a search to a person
    refused = client.get("/api/v1/search", params={"party": "klant2@klant.nl"},
                         headers=bearer(tokens["trainer"]))
    assert refused.status_code == 403


def test_the_search_form_offers_each_role_its_own_filters(
    client: TestClient, tokens: dict[str, str]
) -> None:
    quality = client.get("/api/v1/search/filters", headers=bearer(tokens["quality"])).json()
    assert quality["party"] is True and "quality" in quality["purposes"]
    assert "legal" not in quality["purposes"]
    assert quality["directions"] == ["inbound", "outbound", "internal"]
    trainer = client.get("/api/v1/search/filters", headers=bearer(tokens["trainer"])).json()
    assert trainer["party"] is False and trainer["purposes"] == ["training"]
    assert client.get("/api/v1/search/filters",
                      headers=bearer(tokens["admin"])).status_code == 403
