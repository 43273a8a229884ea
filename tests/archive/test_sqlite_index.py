"""What the embedded index leaves on disk after erasure, and that it survives many deletes."""

from __future__ import annotations

from pathlib import Path

from archive.index import SearchQuery
from archive.index.sqlite import SqliteIndex
from tests.conftest import index_doc


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_deleted_items_words_leave_the_index_file(tmp_path: Path) -> None:
    idx = SqliteIndex(tmp_path / "index.sqlite")
    idx.ensure()
    idx.upsert([index_doc("gone", text="secret word quetzalcoatl7", title="t"),
                index_doc("kept", text="ordinary word axolotl9", title="t")])
    idx.delete("gone")
    # While the index stays open (as in a running server), WAL included.
    data = _file_bytes(tmp_path / "index.sqlite")
    assert b"axolotl9" in data  # the scan does see what is still indexed
    assert b"quetzalcoatl7" not in data
    idx.close()
    assert b"quetzalcoatl7" not in _file_bytes(tmp_path / "index.sqlite")


def test_thousands_of_single_deletes_keep_the_index_sound(tmp_path: Path) -> None:
    idx = SqliteIndex(tmp_path / "index.sqlite")
    idx.ensure()
    idx.upsert([index_doc(f"i{n}", text=f"fibre line drops {n}")
                for n in range(2000)])
    for n in range(1990):
        idx.delete(f"i{n}")
    assert idx.count() == 10
    assert idx.search(SearchQuery(text="fibre drops")).total == 10
    idx.close()
