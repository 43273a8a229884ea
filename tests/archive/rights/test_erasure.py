"""One end-to-end test per data-subject right, on a mixed archive of three subjects."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

import keys
from archive import catalog as cat
from archive import holds, rights
from archive.errors import AccessDenied, ItemNotFound
from archive.index import SearchQuery
from archive.retention import sweep
from tests.subjects import ALL_OF_A, LEGAL, PRIVACY, QUALITY, T0, A, B, C, Mixed


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


def test_erasure_dry_run_lists_what_would_go_and_what_stays_and_changes_nothing(
    mixed: Mixed,
) -> None:
    arc = mixed.archive
    a_items = mixed.items[A.email]
    holds.place_hold(arc, actor="legal-1", reason="dispute", case_ref="CASE-7",
                     item_ids=[a_items[1]])
    before = {i: arc.record(i).purpose_names for i in a_items}
    dry = rights.erase_subject(arc, ALL_OF_A, actor="dpo", dry_run=True).public()
    assert dry["dry_run"] is True and "DRY RUN" in dry["certificate"]
    kept = {k["item_id"]: k["reason"] for k in dry["kept"]}
    assert kept == {a_items[1]: "legal_hold", mixed.a_order: "legal_obligation"}
    assert {e["item_id"] for e in dry["erased"]} == set(a_items) - set(kept)
    assert {i: arc.record(i).purpose_names for i in a_items} == before
    assert arc.read_content(QUALITY, mixed.a_order).purpose == "quality"
    event = arc.audit.events(subject=A.email)[-1]
    assert event.action == "erase_dry_run" and event.seq == dry["audit_seq"]
    assert arc.audit.events(subject=A.email, action="purge") == []
    real = rights.erase_subject(arc, ALL_OF_A, actor="dpo").public()
    assert real["dry_run"] is False
    assert {e["item_id"] for e in real["erased"]} == {e["item_id"] for e in dry["erased"]}
