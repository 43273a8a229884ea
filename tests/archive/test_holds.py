"""On S3 with Object Lock, a legal hold also locks the objects at the storage level."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from archive import holds, rights
from archive.errors import BlobLocked, ContentIntegrityError, ItemNotFound
from archive.index.memory import MemoryIndex
from archive.retention import sweep
from tests.conftest import email_item, make_archive, make_s3_store
from tests.subjects import ORDERS_MAILBOX, PRIVACY, PRIVACY_CONFIG, T0, A, C, Mixed, call_item


@pytest.mark.service
def test_hold_sets_object_lock_legal_hold_and_lifting_releases_it(tmp_path: Path) -> None:
    store = make_s3_store(object_lock=True)
    arc = make_archive(tmp_path / "s3", store=store, index=MemoryIndex(), config=PRIVACY_CONFIG)
    try:
        item = arc.ingest(email_item(body="keep this", started_at=T0)).item_id
        hold = holds.place_hold(arc, actor="legal-1", reason="litigation", case_ref="S3-1",
                                item_ids=[item])
        keys = [k for k in store.keys("items/") if item in k]
        assert keys and hold.storage_locks == len(keys)
        with pytest.raises(BlobLocked):
            store.delete(keys[0])
        report = sweep(arc, now=T0 + timedelta(days=400))
        assert report.held == [item]
        holds.lift_hold(arc, hold.id, actor="legal-1", note="closed")
        report = sweep(arc, now=T0 + timedelta(days=400))
        assert report.purged == [item]
        assert not [k for k in store.keys("items/") if item in k]
    finally:
        arc.close()


@pytest.mark.service
def test_item_archived_under_a_subject_hold_is_locked_in_the_store_at_once(
    tmp_path: Path,
) -> None:
    store = make_s3_store(object_lock=True)
    arc = make_archive(tmp_path / "s3", store=store, index=MemoryIndex(), config=PRIVACY_CONFIG)
    try:
        arc.ingest(email_item(customer="held@customer.nl", agent=ORDERS_MAILBOX, started_at=T0))
        holds.place_hold(arc, actor="legal-1", reason="litigation", case_ref="S3-2",
                         subject="held@customer.nl")
        later = arc.ingest(email_item(customer="held@customer.nl", agent=ORDERS_MAILBOX,
                                      body="x" * 300_000)).item_id
        keys = [k for k in store.keys("items/") if later in k]
        assert keys  # the original is a blob (large parts never go inline)
        with pytest.raises(BlobLocked):
            store.delete(keys[0])
    finally:
        arc.close()


def test_subject_hold_covers_later_items_and_blocks_erasure(mixed: Mixed) -> None:
    arc = mixed.archive
    hold = holds.place_hold(arc, actor="legal-1", reason="claim", case_ref="C-2",
                            subject=A.email)
    assert hold.item_ids == (mixed.a_order,)
    later = arc.ingest(email_item(customer=A.email, agent=ORDERS_MAILBOX,
                                  body="second order")).item_id
    assert arc.record(later).held
    cert = rights.erase_subject(arc, A.email, actor="dpo").public()
    assert {k["item_id"]: k["reason"] for k in cert["kept"]} == \
        {mixed.a_order: "legal_hold", later: "legal_hold"}
    lifted = holds.lift_hold(arc, hold.id, actor="legal-1", note="settled")
    assert not lifted.active
    cert = rights.erase_subject(arc, A.email, actor="dpo").public()
    assert {k["reason"] for k in cert["kept"]} == {"legal_obligation"}


def test_a_legal_hold_by_subject_neither_lists_nor_freezes_items_legal_may_not_see(
    mixed: Mixed,
) -> None:
    """Legal sees only items carrying its purposes; a subject hold is limited like a search."""
    arc = mixed.archive
    hold = holds.place_hold(arc, actor="legal-1", reason="claim", case_ref="C-3",
                            subject=C.phone)
    assert hold.item_ids == ()  # C's call is tagged for quality and training only
    arc.ingest(email_item(customer=C.email, body="later, support only"))
    later_call = arc.ingest(call_item(C, started_at=T0)).item_id
    assert not arc.record(later_call).held
    assert holds.get_hold(arc, hold.id).item_ids == ()
    report = sweep(arc, now=T0 + timedelta(days=400))
    assert set(mixed.items[C.email]) <= set(report.purged)
    assert later_call in report.purged


def test_search_hold_and_storage_lock(tmp_path: object) -> None:
    from pathlib import Path

    from archive.errors import BlobLocked
    from archive.index.memory import MemoryIndex
    from archive.store.memory import MemoryStore
    from tests.conftest import email_item, make_archive
    from tests.subjects import ORDERS_MAILBOX, PRIVACY_CONFIG

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


@pytest.mark.service
def test_erasure_of_a_blob_still_locked_in_the_store_shreds_its_keys_and_reports_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN an item whose hold was lifted, but whose blob kept its Object Lock legal
    # hold in the bucket (a clear that failed, or a lock set by hand)
    store = make_s3_store(object_lock=True)
    arc = make_archive(tmp_path / "s3", store=store, index=MemoryIndex(), config=PRIVACY_CONFIG)
    try:
        item = arc.ingest(email_item(customer=A.email, body="erase me", started_at=T0)).item_id
        hold = holds.place_hold(arc, actor="legal-1", reason="r", case_ref="L-1",
                                item_ids=[item])
        holds.lift_hold(arc, hold.id, actor="legal-1", note="closed")
        [key] = [k for k in store.keys("items/") if item in k]
        assert store.set_legal_hold(key, True)
        # WHEN the subject is erased
        with caplog.at_level("WARNING"):
            cert = rights.erase_subject(arc, A.email, actor="dpo")
        # THEN the item is erased (its keys are gone, so the locked blob is noise), the
        # leftover blob is reported, and the bucket still refuses to delete it
        assert [e["item_id"] for e in cert.erased] == [item]
        with pytest.raises((ItemNotFound, ContentIntegrityError)):
            arc.read_content(PRIVACY, item)
        assert store.exists(key)
        with pytest.raises(BlobLocked):
            store.delete(key)
        assert "sealed blob(s) left behind" in caplog.text
    finally:
        arc.close()
