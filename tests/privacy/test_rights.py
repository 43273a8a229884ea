"""One end-to-end test per data-subject right, on a mixed archive of three subjects."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa

import keys
from archive import catalog as cat
from archive import holds, rights
from archive.config import Role
from archive.errors import AccessDenied, ContentIntegrityError, InvalidRequest, ItemNotFound
from archive.index import SearchQuery
from archive.retention import sweep
from archive.service import Archive
from archive.users import User
from tests.privacy.conftest import T0, A, B, C, Mixed

PRIVACY = User("p", Role.PRIVACY)
QUALITY = User("q", Role.QUALITY)
TRAINER = User("t", Role.TRAINER)
LEGAL = User("l", Role.LEGAL)


ALL_OF_A = [A.email, A.phone, A.customer_number]


def _export(archive: Archive, identifier: str | list[str]) -> zipfile.ZipFile:
    buf = io.BytesIO()
    rights.export_subject(archive, identifier, buf, actor="dpo")
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))


def test_lookup_finds_party_items_by_every_identifier_and_mentions(mixed: Mixed) -> None:
    arc = mixed.archive
    a_items = set(mixed.items[A.email])
    by_mail = rights.find_subject(arc, "Anna@Customer.NL")
    assert by_mail.identifier == A.email
    by_phone = rights.find_subject(arc, "06 12345678")
    assert by_phone.identifier == A.phone
    by_number = rights.find_subject(arc, A.customer_number)
    assert set(by_mail.party_items) | set(by_phone.party_items) | set(by_number.party_items) \
        == a_items - set(mixed.items["mention"])
    assert set(by_number.mention_items) == set(mixed.items["mention"])
    b_and_c = set(mixed.items[B.email]) | set(mixed.items[C.email])
    for match in (by_mail, by_phone, by_number):
        assert not set(match.item_ids) & b_and_c


def test_access_export_contains_all_of_a_and_nothing_of_b_or_c(mixed: Mixed) -> None:
    arc = mixed.archive
    rights.record_disclosure(arc, [mixed.a_order], recipient="Tax authority",
                              legal_basis="Art. 6(1)(c); tax law", actor="legal-1",
                              role="legal", reference="TAX-9")
    rights.annotate_item(arc, mixed.items[A.email][0], "Customer says the date is wrong.",
                          actor="dpo", subject=A.email)
    zf = _export(arc, ALL_OF_A)
    names = zf.namelist()
    index = json.loads(zf.read("index.json"))
    exported = {i["id"] for i in index["items"]}
    expected = set(mixed.items[A.email])
    assert exported == expected
    others = set(mixed.items[B.email]) | set(mixed.items[C.email])
    assert not any(o in n for o in others for n in names)
    blob = b"".join(zf.read(n) for n in names)
    for other in (B, C):
        assert other.email.encode() not in blob and other.phone.encode() not in blob
    order = next(i for i in index["items"] if i["id"] == mixed.a_order)
    assert {p["lawful_basis"] for p in order["purposes"]} == {"legitimate_interest",
                                                              "legal_obligation"}
    assert all(p["retain_until"] for p in order["purposes"])
    assert order["disclosed_to"][0]["recipient"] == "Tax authority"
    call = next(i for i in index["items"] if i["channel"] == "call")
    assert f"items/{call['id']}/original.wav" in names
    words = json.loads(zf.read(f"items/{call['id']}/transcript.json"))
    assert words["speakers"][0]["words"][0]["start"] == 0.0
    assert b"router" in zf.read(f"items/{call['id']}/transcript.txt")
    first = next(i for i in index["items"] if i["id"] == mixed.items[A.email][0])
    assert first["rectifications"][0]["text"] == "Customer says the date is wrong."
    assert zf.read(f"items/{first['id']}/original.eml").startswith(b"From: Jan <anna@")
    assert "Tax authority" in zf.read("summary.txt").decode()
    vcons = [json.loads(zf.read(n)) for n in names if n.startswith("vcon/")]
    assert sum(len(v["dialog"]) for v in vcons) == len(expected)
    recording = next(d for v in vcons for d in v["dialog"] if d["type"] == "recording")
    assert recording["encoding"] == "base64url" and recording["parties"]
    assert any(a["type"] == "lawful_basis" for v in vcons for a in v["attachments"])
    events = arc.audit.events(subject=A.email, action="export")
    assert events and set(events[-1].item_ids) == set(exported)


def test_erasure_shreds_and_purges_keeps_held_and_legal_and_certifies(mixed: Mixed) -> None:
    arc = mixed.archive
    a_items = mixed.items[A.email]
    held_item = a_items[1]
    holds.place_hold(arc, actor="legal-1", reason="dispute", case_ref="CASE-7",
                     item_ids=[held_item])
    rights.record_disclosure(arc, [a_items[0]], recipient="Police", legal_basis="warrant",
                              actor="legal-1", role="legal")
    saved = {}
    with arc.catalog.read() as conn:
        for row in conn.execute(sa.select(cat.parts).where(cat.parts.c.item_id.in_(a_items))):
            sealed_copy = row.inline if row.inline is not None else arc.store.get(row.blob_key)
            saved[(row.item_id, row.name)] = sealed_copy

    cert = rights.erase_subject(arc, ALL_OF_A, actor="dpo", request_id=4).public()

    erased = {e["item_id"] for e in cert["erased"]}
    kept = {k["item_id"]: k["reason"] for k in cert["kept"]}
    assert kept == {held_item: "legal_hold", mixed.a_order: "legal_obligation"}
    assert erased == set(a_items) - set(kept)
    assert cert["recipients_to_notify"][0]["recipient"] == "Police"
    assert cert["audit_seq"] == arc.audit.events(subject=A.email, action="erase")[-1].seq
    # Not findable, not readable.
    for item_id in erased:
        with pytest.raises(ItemNotFound):
            arc.read_content(PRIVACY, item_id)
    hits = arc.search(PRIVACY, SearchQuery(text="Anna")).result.hits
    assert {h.item_id for h in hits} == set(kept)
    assert arc.search(PRIVACY, SearchQuery(text="K-1001")).result.total == 0
    # The order e-mail is now legal only: quality lost its key, legal still reads it.
    with pytest.raises(AccessDenied):
        arc.read_content(QUALITY, mixed.a_order)
    assert arc.read_content(LEGAL, mixed.a_order).purpose == "legal"
    assert arc.read_content(QUALITY, held_item).purpose == "quality"
    # A copy of the erased blobs stays undecryptable with every key the archive still holds.
    with arc.catalog.read() as conn:
        wrapped = conn.execute(sa.select(cat.wrapped_keys)).all()
    deks = [arc.keyring.unwrap(keys.WrappedKey(w.purpose, w.kek_version, w.blob), w.item_id)
            for w in wrapped]
    for (item_id, part), sealed in saved.items():
        if item_id not in erased:
            continue
        for dek in deks:
            with pytest.raises(keys.IntegrityError):
                keys.unseal_bytes(sealed, dek, f"{item_id}/{part}")
    # B and C untouched.
    for item_id in mixed.items[B.email] + mixed.items[C.email]:
        assert arc.read_content(PRIVACY, item_id).data
    # Held item also survives the sweep.
    report = sweep(arc, now=T0 + timedelta(days=3000))
    assert held_item in report.held
    assert arc.record(held_item).held
    with arc.catalog.read() as conn:
        tombs = conn.execute(sa.select(cat.tombstones.c.reason)
                             .where(cat.tombstones.c.item_id.in_(erased))).all()
    assert {t[0] for t in tombs} == {"erasure"}
    assert arc.audit.verify().ok


def test_restriction_hides_items_from_quality_and_trainer_until_lifted(mixed: Mixed) -> None:
    arc = mixed.archive
    result = rights.restrict_subject(arc, A.phone, actor="dpo", reason="accuracy contested")
    call = next(i for i in mixed.items[A.email] if arc.record(i).channel.value == "call")
    assert call in result["restricted"]
    for user in (QUALITY, TRAINER):
        with pytest.raises(AccessDenied) as err:
            arc.read_content(user, call, part="transcript")
        assert err.value.code == "restricted"
        hits = arc.search(user, SearchQuery(text="router broken")).result.hits
        assert call not in {h.item_id for h in hits}
        assert {h.item_id for h in hits} >= {i for i in mixed.items[B.email]
                                             if arc.record(i).channel.value == "call"}
    assert arc.read_content(PRIVACY, call).data
    assert arc.read_content(LEGAL, mixed.a_order).purpose == "legal"
    with pytest.raises(InvalidRequest):
        rights.lift_restriction(arc, A.phone, actor="dpo", note=" ")
    lifted = rights.lift_restriction(arc, A.phone, actor="dpo",
                                      note="subject informed by e-mail on 2026-02-01")
    assert call in lifted["lifted"]
    assert arc.read_content(QUALITY, call).purpose == "quality"
    assert [e.action for e in arc.audit.events(subject=A.phone)][-2:] == \
        ["restrict", "restrict_lift"]


def test_objection_drops_quality_and_training_keys_and_keeps_legal(mixed: Mixed) -> None:
    arc = mixed.archive
    result = rights.object_subject(arc, ALL_OF_A, actor="dpo")
    assert set(result["purposes"]) == {"quality", "training"}
    assert mixed.a_order not in result["purged"]
    assert arc.record(mixed.a_order).purpose_names == frozenset({"legal"})
    with pytest.raises(AccessDenied):
        arc.read_content(QUALITY, mixed.a_order)
    assert arc.read_content(LEGAL, mixed.a_order).purpose == "legal"
    others = [i for i in mixed.items[A.email] if i != mixed.a_order]
    assert set(result["purged"]) == set(others)
    with arc.catalog.read() as conn:
        left = conn.execute(sa.select(cat.wrapped_keys.c.purpose)
                            .where(cat.wrapped_keys.c.item_id == mixed.a_order)).all()
    assert [r[0] for r in left] == ["legal"]
    with pytest.raises(InvalidRequest):
        rights.object_subject(arc, A.email, actor="dpo", purposes=["legal"])


def test_consent_withdrawal_of_one_purpose_only(mixed: Mixed) -> None:
    arc = mixed.archive
    result = rights.object_subject(arc, [B.email, B.phone], actor="dpo", purposes=["training"],
                                    withdrawal=True)
    assert {d["purpose"] for d in result["dropped"]} == {"training"}
    for item_id in mixed.items[B.email]:
        assert arc.record(item_id).purpose_names == frozenset({"quality"})
        with pytest.raises(AccessDenied):
            arc.read_content(TRAINER, item_id, part="transcript")
    assert arc.audit.events(subject=B.email)[-1].action == "consent_withdrawal"


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


def test_subject_hold_covers_later_items_and_blocks_erasure(mixed: Mixed) -> None:
    arc = mixed.archive
    hold = holds.place_hold(arc, actor="legal-1", reason="claim", case_ref="C-2",
                            subject=C.phone)
    assert set(hold.item_ids) == {i for i in mixed.items[C.email]
                                  if arc.record(i).channel.value == "call"}
    cert = rights.erase_subject(arc, C.phone, actor="dpo").public()
    assert {k["reason"] for k in cert["kept"]} == {"legal_hold"}
    assert cert["erased"] == []
    lifted = holds.lift_hold(arc, hold.id, actor="legal-1", note="settled")
    assert not lifted.active
    cert = rights.erase_subject(arc, C.phone, actor="dpo").public()
    assert len(cert["erased"]) == 1


def test_search_hold_and_storage_lock(tmp_path: object) -> None:
    from pathlib import Path

    from archive.index.memory import MemoryIndex
    from archive.errors import BlobLocked
    from archive.store.memory import MemoryStore
    from tests.conftest import email_item, make_archive
    from tests.privacy.conftest import ORDERS_MAILBOX, PRIVACY_CONFIG

    assert isinstance(tmp_path, Path)
    store = MemoryStore()
    arc = make_archive(tmp_path / "m", store=store, index=MemoryIndex(), config=PRIVACY_CONFIG)
    try:
        item = arc.ingest(email_item(body="fraud suspected here", agent=ORDERS_MAILBOX,
                                     started_at=T0)).item_id
        arc.ingest(email_item(body="nothing to see", started_at=T0))
        # Tagged for quality/training only: legal may not see it, so a search hold
        # neither covers nor reveals it.
        arc.ingest(email_item(body="fraud rumour in a quality-only mail", started_at=T0))
        hold = holds.place_hold(arc, actor="l", reason="fraud", case_ref="F-1",
                                query="fraud")
        assert hold.item_ids == (item,) and hold.storage_locks >= 1
        key = next(k for k in store.keys("items/") if item in k)
        with pytest.raises(BlobLocked):
            store.delete(key)
        holds.lift_hold(arc, hold.id, actor="l", note="cleared")
        report = sweep(arc, now=T0 + timedelta(days=3000))  # past legal's 7 years
        assert item in report.purged
        with pytest.raises((ItemNotFound, ContentIntegrityError)):
            arc.read_content(PRIVACY, item)
    finally:
        arc.close()


def test_erasure_keeps_other_subjects_mail_that_only_mentions_the_subject(mixed: Mixed) -> None:
    from tests.conftest import email_item

    arc = mixed.archive
    bobs = arc.ingest(email_item(subject="About my neighbour",
                                 body=f"My neighbour {A.customer_number} gets my post.",
                                 customer=B.email)).item_id
    cert = rights.erase_subject(arc, ALL_OF_A, actor="dpo").public()
    kept = {k["item_id"]: k["reason"] for k in cert["kept"]}
    assert kept[bobs] == "other_subjects"
    assert mixed.items["mention"][0] in {e["item_id"] for e in cert["erased"]}  # nobody else's
    assert arc.read_content(QUALITY, bobs).purpose == "quality"  # Bob's mail is intact
    again = rights.erase_subject(arc, ALL_OF_A, actor="dpo", erase_others=True).public()
    assert bobs in {e["item_id"] for e in again["erased"]}
