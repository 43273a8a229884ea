"""The e-mail reader API: a header card, sanitised HTML, attachments for roles that may."""

from __future__ import annotations

from fastapi.testclient import TestClient

from archive.service import Archive
from tests.conftest import email_item
from tests.search_api.conftest import assert_error, bearer
from tests.search_api.mail_samples import PDF, archive_html_mail


def test_an_email_reads_as_a_card_with_text_safe_html_and_attachments(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive_html_mail(archive)
    resp = client.get(f"/api/v1/items/{item_id}/message", headers=bearer(tokens["quality"]))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # THEN the headers are structured, not raw RFC 5322
    assert body["subject"] == "Modem blinks orange"
    assert body["sender"] == [{"name": "Marieke Smit", "address": "marieke@customer.nl"}]
    assert body["to"] == [{"name": "Support", "address": "support@example.com"}]
    assert body["cc"] == [{"name": "Billing", "address": "billing@example.com"}]
    assert body["date"] == "Mon, 02 Nov 2026 09:15:00 +0100"
    assert "modem blinks orange" in body["text"]
    # AND the HTML keeps its text and link but nothing that runs, styles or loads
    html = body["html"]
    assert '<a href="https://status.example.net/outage/42"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    for banned in ("<script", "alert(", "style", "onclick", "<img", "tracker.example.org",
                   "<iframe", "evil.example.org"):
        assert banned not in html, banned
    assert body["attachments"] == [{"index": 0, "filename": "invoice 42.pdf",
                                    "content_type": "application/pdf", "size": len(PDF)}]
    assert body["anonymised"] is False and body["read_through"] == "quality"


def test_an_attachment_downloads_exactly_as_sent_and_the_read_is_audited(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive_html_mail(archive)
    resp = client.get(f"/api/v1/items/{item_id}/attachments/0",
                      headers=bearer(tokens["quality"]))
    assert resp.status_code == 200
    assert resp.content == PDF
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.headers["content-disposition"] == 'attachment; filename="invoice 42.pdf"'
    assert "sandbox" in resp.headers["content-security-policy"]
    err = assert_error(client.get(f"/api/v1/items/{item_id}/attachments/7",
                                  headers=bearer(tokens["quality"])), 404, "not_found")
    assert "attachment 7" in str(err["message"])
    reads = archive.audit.events(actor="quality-user", action="read")
    assert reads and all(e.item_ids == (item_id,) for e in reads)


def test_a_trainer_gets_only_the_redacted_text_and_no_attachment(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive_html_mail(archive)
    body = client.get(f"/api/v1/items/{item_id}/message",
                      headers=bearer(tokens["trainer"])).json()
    assert body["anonymised"] is True
    assert body["sender"] == [] and body["html"] is None and body["attachments"] == []
    assert "marieke" not in str(body).lower() and "Smit" not in str(body)
    assert "modem" in body["text"].lower()
    err = assert_error(client.get(f"/api/v1/items/{item_id}/attachments/0",
                                  headers=bearer(tokens["trainer"])), 403, "purpose_not_carried")
    assert err["item_id"] == item_id


def test_admin_never_reads_a_message_and_a_call_is_not_one(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive.ingest(email_item()).item_id
    assert_error(client.get(f"/api/v1/items/{item_id}/message",
                            headers=bearer(tokens["admin"])), 403, "wrong_role")
    plain = client.get(f"/api/v1/items/{item_id}/message", headers=bearer(tokens["quality"]))
    assert plain.status_code == 200 and plain.json()["html"] is None
    assert plain.json()["text"].strip() == "Hello, my invoice is wrong."
