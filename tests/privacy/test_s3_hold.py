"""On S3 with Object Lock, a legal hold also locks the objects at the storage level."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from archive import holds
from archive.index.memory import MemoryIndex
from archive.retention import sweep
from archive.errors import BlobLocked
from tests.conftest import email_item, make_archive, make_s3_store
from tests.privacy.conftest import PRIVACY_CONFIG, T0


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
        arc.ingest(email_item(customer="held@customer.nl", started_at=T0))
        holds.place_hold(arc, actor="legal-1", reason="litigation", case_ref="S3-2",
                         subject="held@customer.nl")
        later = arc.ingest(email_item(customer="held@customer.nl", body="x" * 300_000)).item_id
        keys = [k for k in store.keys("items/") if later in k]
        assert keys  # the original is a blob (large parts never go inline)
        with pytest.raises(BlobLocked):
            store.delete(keys[0])
    finally:
        arc.close()
