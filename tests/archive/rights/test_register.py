"""One end-to-end test per data-subject right, on a mixed archive of three subjects."""

from __future__ import annotations

from datetime import timedelta

import pytest

from archive import rights
from archive.errors import InvalidRequest
from archive.service import Archive
from tests.subjects import PRIVACY, QUALITY, T0, A, B, C, Mixed


def test_rectification_is_an_annotation_beside_the_intact_original(mixed: Mixed) -> None:
    arc = mixed.archive
    item = mixed.items[C.email][0]
    before = arc.read_content(PRIVACY, item).data
    rights.record_disclosure(arc, [item], recipient="Processor X", legal_basis="Art. 28 DPA",
                              actor="dpo")
    out = rights.annotate_item(arc, item, "Correct address: Main St 2.", actor="dpo",
                                subject=C.email)
    assert out["recipients_to_notify"][0]["recipient"] == "Processor X"
    view = arc.get_item(QUALITY, item)
    assert view.annotations[0]["text"] == "Correct address: Main St 2."
    assert arc.read_content(PRIVACY, item).data == before
    assert arc.audit.events(subject=C.email)[-1].action == "rectify"


def test_disclosures_are_listed_per_subject(mixed: Mixed) -> None:
    arc = mixed.archive
    rights.record_disclosure(arc, mixed.items[B.email][:2], recipient="Regulator",
                              legal_basis="Art. 6(1)(c)", actor="legal-1", role="legal",
                              reference="REG-1")
    listed = rights.list_disclosures(arc, subject=[B.email, B.phone])
    assert {d["item_id"] for d in listed} == set(mixed.items[B.email][:2])
    assert rights.list_disclosures(arc, subject=A.email) == []


def test_requests_are_tracked_with_a_one_month_deadline(parch: Archive) -> None:
    req = rights.add_request(parch, kind="access", subject="Anna@customer.nl",
                              requested_by="Anna by letter", verified_by="dpo",
                              actor="dpo", received_at=T0)
    assert req["due_at"] == (T0 + timedelta(days=30)).isoformat()
    assert req["subject"] == A.email
    late = T0 + timedelta(days=31)
    assert [r["id"] for r in rights.list_requests(parch, overdue=True, now=late)] == [req["id"]]
    assert rights.list_requests(parch, overdue=True, now=T0 + timedelta(days=29)) == []
    closed = rights.close_request(parch, req["id"], actor="dpo", note="export sent")
    assert closed["status"] == "done"
    assert rights.list_requests(parch, overdue=True, now=late) == []
    with pytest.raises(InvalidRequest):
        rights.add_request(parch, kind="gossip", subject="x", requested_by="y",
                            verified_by=None, actor="dpo")


def test_purposes_report_is_the_art_30_record_with_counts_and_the_oldest_item(
    mixed: Mixed,
) -> None:
    arc = mixed.archive
    report = {r["purpose"]: r for r in rights.purposes_report(arc)}
    assert set(report) == {"quality", "training", "order", "legal"}
    quality = report["quality"]
    assert quality["lawful_basis"] == "legitimate_interest"
    assert quality["retention_days"] == arc.config.purpose("quality").retention_days
    assert quality["items"] == len(arc.item_ids())
    assert quality["oldest_item"] == T0.isoformat()
    assert report["legal"]["items"] == 1  # A's order e-mail to the orders mailbox
    assert report["order"]["items"] == 0 and report["order"]["oldest_item"] is None


def test_requests_and_rectifications_refuse_a_word_as_the_subject(mixed: Mixed) -> None:
    """A request or a note filed under 'jansen' could never be matched to a person's
    items or audit trail: refused by name, as every other right refuses it."""
    arc = mixed.archive
    with pytest.raises(InvalidRequest, match="'jansen' is not a data-subject identifier"):
        rights.add_request(arc, kind="access", subject="jansen", requested_by="letter",
                           verified_by=None, actor="dpo")
    item_id = mixed.items[A.email][0]
    with pytest.raises(InvalidRequest, match="'2026' is not a data-subject identifier"):
        rights.annotate_item(arc, item_id, "corrected address", actor="dpo", subject="2026")
    assert rights.list_requests(arc) == [] and arc.reader.annotations(item_id) == []
    ok = rights.add_request(arc, kind="access", subject="06 12345678", requested_by="letter",
                            verified_by=None, actor="dpo")
    assert ok["subject"] == A.phone
