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


def _trainer_call(archive: Archive, words: str) -> str:
    from datetime import UTC, datetime

    from tests.subjects import Subject, call_item, transcribe

    kees = Subject("kees@klant.nl", "+31612345678", "K-1", "Kees Klant")
    item_id = archive.ingest(call_item(kees, started_at=datetime.now(UTC))).item_id
    transcribe(archive, item_id, words)
    return item_id


def test_trainer_transcript_words_and_utterances_agree_on_what_is_redacted(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = _trainer_call(archive, "hallo met kees mijn nummer is zes twee drie vier vijf "
                                     "en mijn mail is kees@klant.nl dank u")
    body = client.get(f"/api/v1/items/{item_id}/transcript",
                      headers=bearer(tokens["trainer"])).json()["transcript"]
    speaker = body["speakers"][0]
    words = [w["word"] for w in speaker["words"]]
    assert not {"zes", "twee", "drie", "vier", "vijf", "kees", "kees@klant.nl"} & set(words)
    # the address is redacted whole, as an e-mail address, though it starts with the name
    assert words == ["hallo", "met", "[CUSTOMER-1]", "mijn", "nummer", "is", "[NUMBER]", "en",
                     "mijn", "mail", "is", "[EMAIL]", "dank", "u"]
    assert speaker["utterances"][0]["text"] == " ".join(words)
    quality = client.get(f"/api/v1/items/{item_id}/transcript",
                         headers=bearer(tokens["quality"])).json()["transcript"]
    assert "zes" in [w["word"] for w in quality["speakers"][0]["words"]]


def test_trainer_metadata_withholds_headers_and_attachment_names(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    import dataclasses

    item = email_item(subject="Contract of Jan", customer="jan.smit@klant.nl")
    item = dataclasses.replace(item, details={
        **item.details, "headers": [["Received", "from host-84-12-3-4.klant.nl"]],
        "attachments": [{"name": "jan_smit_paspoort.PDF", "type": "application/pdf",
                         "size": 10, "sha256": "00", "disposition": "attachment"}]})
    item_id = archive.ingest(item).item_id
    meta = client.get(f"/api/v1/items/{item_id}", headers=bearer(tokens["trainer"])).json()
    assert "headers" not in meta["details"] and "message_id" not in meta["details"]
    assert meta["details"]["attachments"][0]["name"] == "attachment-1.pdf"
    assert meta["details"]["subject"] == "Contract of [CUSTOMER-1]"
    assert "smit" not in str(meta).lower() and "84-12" not in str(meta)
