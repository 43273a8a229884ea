"""One contract for every object store: memory, local directory, S3 (moto server)."""

from __future__ import annotations

import os

import pytest

from archive.errors import BlobLocked, BlobNotFound
from archive.store import ObjectStore


def test_written_object_reads_back_whole_and_by_range(store: ObjectStore) -> None:
    data = os.urandom(300_000)
    with store.writer("items/ab/x1/original") as w:
        w.write(data[:100_000])
        w.write(data[100_000:])
    assert store.get("items/ab/x1/original") == data
    assert store.get_range("items/ab/x1/original", 12_345, 1000) == data[12_345:13_345]
    assert store.size("items/ab/x1/original") == len(data)
    assert store.exists("items/ab/x1/original")


def test_writer_that_raises_leaves_no_object(store: ObjectStore) -> None:
    with pytest.raises(RuntimeError), store.writer("items/ab/x2/original") as w:
        w.write(b"half")
        raise RuntimeError("sender vanished")
    assert not store.exists("items/ab/x2/original")
    assert list(store.keys("items/ab/x2")) == []


def test_missing_object_is_blob_not_found(store: ObjectStore) -> None:
    with pytest.raises(BlobNotFound):
        store.get("items/zz/nothing/original")
    assert not store.exists("items/zz/nothing/original")


def test_delete_is_idempotent_and_lists_by_prefix(store: ObjectStore) -> None:
    store.put("items/aa/i1/original", b"1")
    store.put("items/aa/i1/details", b"2")
    store.put("items/bb/i2/original", b"3")
    assert sorted(store.keys("items/aa/")) == ["items/aa/i1/details", "items/aa/i1/original"]
    store.delete("items/aa/i1/original")
    store.delete("items/aa/i1/original")
    assert not store.exists("items/aa/i1/original")
    assert store.get("items/bb/i2/original") == b"3"


def test_overwrite_replaces_content(store: ObjectStore) -> None:
    store.put("items/cc/i3/transcript", b"old")
    store.put("items/cc/i3/transcript", b"new")
    assert store.get("items/cc/i3/transcript") == b"new"


def test_keys_with_path_tricks_are_refused(store: ObjectStore) -> None:
    for bad in ("../etc/passwd", "/abs", "items/../x", ""):
        with pytest.raises(ValueError):
            store.put(bad, b"x")


def test_legal_hold_refuses_delete_where_supported(store: ObjectStore) -> None:
    store.put("items/dd/i4/original", b"evidence")
    if not store.set_legal_hold("items/dd/i4/original", True):
        assert store.name == "local"  # a plain directory has no WORM lock
        return
    with pytest.raises(BlobLocked):
        store.delete("items/dd/i4/original")
    assert store.get("items/dd/i4/original") == b"evidence"
    store.set_legal_hold("items/dd/i4/original", False)
    store.delete("items/dd/i4/original")
    assert not store.exists("items/dd/i4/original")
