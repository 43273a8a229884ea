"""A phone number or e-mail address written in content finds its item in every written form."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from archive.model import Section
from archive.rights.subjects import find_subject
from archive.service import Archive
from search_api.app import create_app
from tests.conftest import email_item
from tests.search_api.conftest import bearer


@pytest.mark.parametrize("asked", ["0612345678", "+31612345678", "06-12345678",
                                   "+31 6 12 34 56 78", "0031612345678"])
def test_a_number_written_in_a_body_is_found_by_every_form(
    archive: Archive, asked: str
) -> None:
    item_id = archive.ingest(email_item(body="Bel me terug op 06-12345678 aub",
                                        customer="someone@klant.nl")).item_id
    assert find_subject(archive, asked).mention_items == (item_id,)


def test_an_address_written_in_an_attachment_and_a_transcript_is_a_mention(
    archive: Archive,
) -> None:
    item = email_item(body="see attached", customer="a@klant.nl")
    item.sections.append(Section("attachment", "contract.txt\nContact: Piet.Smit@Example.ORG"))
    by_attachment = archive.ingest(item).item_id
    call_mail = archive.ingest(email_item(body="no numbers here", customer="b@klant.nl")).item_id
    archive.attach_transcript(
        call_mail, {"speakers": []},
        [Section("transcript", "my number is +32 470 12 34 56", "customer", 2.0)], "x")
    assert find_subject(archive, "piet.smit@example.org").mention_items == (by_attachment,)
    assert find_subject(archive, "0032470123456").mention_items == (call_mail,)


def test_reindex_rebuilds_the_mentions(archive: Archive) -> None:
    item_id = archive.ingest(email_item(body="nummer 06 1234 5678", customer="c@klant.nl")).item_id
    archive.index.clear()
    assert find_subject(archive, "+31612345678").mention_items == ()
    archive.reindex()
    assert find_subject(archive, "+31612345678").mention_items == (item_id,)


def test_subject_lookup_over_http_finds_a_number_written_with_a_dash(
    archive: Archive, tokens: dict[str, str]
) -> None:
    item_id = archive.ingest(email_item(body="Mijn nummer: 06-12345678",
                                        customer="d@klant.nl")).item_id
    with TestClient(create_app(archive)) as client:
        for form in ("06-12345678", "0612345678", "%2B31612345678"):
            body = client.get(f"/api/v1/subjects/{form}",
                              headers=bearer(tokens["privacy"])).json()
            assert [(i["item_id"], i["match"]) for i in body["items"]] == [
                (item_id, ["mention"])], form
