"""The keyring storage seam's contract, over every implementation: a file, memory, and the
catalog on SQLite and on a real PostgreSQL server (the shared one several nodes use).

What a user of several nodes cares about: a keyring made on one node opens on another
with the same master key, a rotation on one node is what the other wraps with next,
concurrent changes from two nodes are both kept, and the storage never sees the master
key or a KEK in the clear.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import keys
from archive.catalog import Catalog, sqlite_url
from archive.keyring_store import CatalogKeyringStorage
from keys.ringstore import KeyringStorage
from keys.ringstore.file import FileKeyringStorage
from keys.ringstore.memory import MemoryKeyringStorage
from tests.services import postgres_database

KINDS = ("file", "memory", "catalog-sqlite", "catalog-postgresql")


class Node:
    """What a second node holds: its own handle on the same storage."""

    def __init__(self, open_storage: Iterator[KeyringStorage]) -> None:
        self._open = open_storage

    def storage(self) -> KeyringStorage:
        return next(self._open)


@pytest.fixture(params=KINDS)
def nodes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    kind = request.param
    if kind == "file":
        yield Node(FileKeyringStorage(tmp_path / "keyring.sealed") for _ in iter(int, 1))
        return
    if kind == "memory":
        shared = MemoryKeyringStorage()
        yield Node(shared for _ in iter(int, 1))
        return
    url = sqlite_url(tmp_path / "catalog.sqlite") if kind == "catalog-sqlite" \
        else postgres_database()
    catalogs: list[Catalog] = []

    def catalog_storages() -> Iterator[KeyringStorage]:
        while True:
            catalog = Catalog(url)
            catalog.create_schema()
            catalogs.append(catalog)
            yield CatalogKeyringStorage(catalog)

    yield Node(catalog_storages())
    for catalog in catalogs:
        catalog.dispose()


def test_a_keyring_made_on_one_node_opens_on_another_with_the_same_master(nodes: Node) -> None:
    master = keys.new_dek()
    made = keys.Keyring.create(nodes.storage(), master, archive_id="a1")
    wrapped = made.wrap(b"k" * 32, "quality", "item-1")
    other = keys.Keyring(nodes.storage(), master)
    assert other.archive_id == "a1" == keys.archive_id_of(nodes.storage())
    assert other.unwrap(wrapped, "item-1") == b"k" * 32
    assert other.secret("audit") == made.secret("audit")
    with pytest.raises(keys.MasterKeyError, match="does not open"):
        keys.Keyring(nodes.storage(), keys.new_dek())
    with pytest.raises(FileExistsError):
        keys.Keyring.create(nodes.storage(), master)


def test_a_rotation_on_one_node_is_what_the_other_wraps_with_next(nodes: Node) -> None:
    master = keys.new_dek()
    a = keys.Keyring.create(nodes.storage(), master)
    a.ensure_purpose("quality")
    b = keys.Keyring(nodes.storage(), master)
    assert b.current_version("quality") == 1
    assert a.rotate("quality") == 2
    assert b.wrap(b"k" * 32, "quality", "item-2").version == 2
    a.retire("quality", 1)
    assert b.retired_versions("quality") == [1]


def test_concurrent_changes_from_two_nodes_are_both_kept(nodes: Node) -> None:
    master = keys.new_dek()
    a = keys.Keyring.create(nodes.storage(), master)
    b = keys.Keyring(nodes.storage(), master)
    names = [f"p{i}" for i in range(8)]
    errors: list[BaseException] = []

    def add(ring: keys.Keyring, mine: list[str]) -> None:
        try:
            for name in mine:
                ring.ensure_purpose(name)
                ring.rotate(name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(a, names[0::2])),
               threading.Thread(target=add, args=(b, names[1::2]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    fresh = keys.Keyring(nodes.storage(), master)
    assert fresh.purposes() == sorted(names)
    assert {fresh.current_version(n) for n in names} == {2}


def test_the_storage_never_holds_the_master_key_or_a_kek_in_the_clear(nodes: Node) -> None:
    master = keys.new_dek()
    ring = keys.Keyring.create(nodes.storage(), master)
    ring.ensure_purpose("quality")
    raw, _ = nodes.storage().load()
    assert master not in raw
    assert ring.secret("audit") not in raw and ring.secret("dedupe") not in raw
    assert b"quality" not in raw  # purpose names are inside the sealed body too
