"""What the embedded index leaves on disk after erasure, and that it survives many deletes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.errors import IndexUnavailable
from archive.index import IndexDoc, SearchQuery
from archive.index.sqlite import SqliteIndex, sqlite_module
from archive.model import Section
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


# -- an index written by an older version ---------------------------------------------

_V1_SCHEMA = """
CREATE TABLE docs (item_id TEXT PRIMARY KEY, channel TEXT NOT NULL, direction TEXT NOT NULL,
    started_at TEXT NOT NULL, restricted INTEGER NOT NULL, held INTEGER NOT NULL,
    title TEXT NOT NULL);
CREATE INDEX docs_started ON docs(started_at);
CREATE TABLE doc_purposes (item_id TEXT NOT NULL, purpose TEXT NOT NULL,
    PRIMARY KEY (item_id, purpose));
CREATE TABLE doc_subjects (item_id TEXT NOT NULL, identifier TEXT NOT NULL,
    PRIMARY KEY (item_id, identifier));
CREATE INDEX doc_subjects_identifier ON doc_subjects(identifier);
CREATE TABLE doc_mentions (item_id TEXT NOT NULL, mention TEXT NOT NULL,
    PRIMARY KEY (item_id, mention));
CREATE INDEX doc_mentions_mention ON doc_mentions(mention);
CREATE TABLE section_rows (rid INTEGER PRIMARY KEY, item_id TEXT NOT NULL);
CREATE INDEX section_rows_item ON section_rows(item_id);
CREATE VIRTUAL TABLE sections USING fts5(
    text, item_id UNINDEXED, kind UNINDEXED, speaker UNINDEXED, start_s UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2');
"""


def _write_v1(path: Path, *, with_section_rows: bool = True) -> None:
    """An index as version 1 wrote it: item ids in every table, FTS rows found by item id."""
    db = sqlite_module().connect(path)
    db.executescript(_V1_SCHEMA)
    items: list[Any] = [
        ("call1", "call", "2026-02-01T10:00:00.000000Z", 0, "Call +31611",
         ("quality",), ("+31611",), ("+31622",),
         [("hello my line drops", "transcript", "customer", 1.5),
          ("let me check the router", "transcript", "agent", 4.0),
          ("+31611 Alice Jansen", "parties", None, None),
          ("hello my line drops", "redacted:transcript", "customer", 1.5)]),
        ("mail1", "email", "2026-02-02T09:30:00.250000Z", 1, "Invoice",
         ("legal", "quality"), ("a@example.net",), (),
         [("Invoice", "subject", None, None), ("the invoice is wrong", "body", None, None)]),
    ]
    for item_id, channel, started, restricted, title, purposes, subjects, mentions, rows \
            in items:
        db.execute("INSERT INTO docs VALUES (?, ?, 'inbound', ?, ?, 0, ?)",
                   (item_id, channel, started, restricted, title))
        db.executemany("INSERT INTO doc_purposes VALUES (?, ?)", [(item_id, p) for p in purposes])
        db.executemany("INSERT INTO doc_subjects VALUES (?, ?)", [(item_id, s) for s in subjects])
        db.executemany("INSERT INTO doc_mentions VALUES (?, ?)", [(item_id, m) for m in mentions])
        for text, kind, speaker, start_s in rows:
            cur = db.execute("INSERT INTO sections (text, item_id, kind, speaker, start_s) "
                             "VALUES (?, ?, ?, ?, ?)", (text, item_id, kind, speaker, start_s))
            db.execute("INSERT INTO section_rows VALUES (?, ?)", (cur.lastrowid, item_id))
    if not with_section_rows:
        db.execute("DROP TABLE section_rows")
    db.commit()
    db.close()


@pytest.mark.parametrize("with_section_rows", [True, False])
def test_a_version_1_index_is_upgraded_in_place_and_answers_as_before(
    tmp_path: Path, with_section_rows: bool
) -> None:
    path = tmp_path / "index.sqlite"
    _write_v1(path, with_section_rows=with_section_rows)
    idx = SqliteIndex(path)
    idx.ensure()
    assert idx.count() == 2
    hit = idx.search(SearchQuery(text="router")).hits[0]
    assert (hit.item_id, hit.speaker, hit.start_s) == ("call1", "agent", 4.0)
    assert "<mark>router</mark>" in hit.snippet
    assert _found(idx, text="invoice") == []  # restricted stays hidden
    assert _found(idx, text="invoice", include_restricted=True,
                  purposes=frozenset({"legal"})) == ["mail1"]
    assert _found(idx, party="Alice Jansen") == ["call1"]
    assert _found(idx, subject="a@example.net", include_restricted=True) == ["mail1"]
    assert _found(idx, mention="+31622") == ["call1"]
    assert _found(idx, text="drops", anonymised=True) == ["call1"]
    assert _found(idx, text="alice", anonymised=True) == []
    assert _found(idx, since=datetime(2026, 2, 2, 9, 30, 0, 250000, tzinfo=UTC),
                  include_restricted=True) == ["mail1"]
    # Writes and deletes work on the upgraded file, and a second open changes nothing.
    idx.delete("call1")
    idx.upsert([index_doc("new", text="router again")])  # type: ignore[list-item]
    idx.close()
    again = SqliteIndex(path)
    again.ensure()
    assert _found(again, text="router") == ["new"]
    again.close()


def test_an_index_from_a_newer_version_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    db = sqlite_module().connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    idx = SqliteIndex(path)
    with pytest.raises(IndexUnavailable, match="schema 99, newer"):
        idx.ensure()
    idx.close()


def test_text_beyond_the_sections_an_item_can_hold_is_still_found(tmp_path: Path) -> None:
    idx = SqliteIndex(tmp_path / "index.sqlite")
    idx.ensure()
    many = tuple(Section("transcript", f"utterance {n}", "agent", float(n)) for n in range(5000))
    idx.upsert([IndexDoc("long", "call", "inbound", datetime(2026, 1, 1, tzinfo=UTC), (), (),
                         ("quality",), False, False, (*many, Section("body", "quokka")))])
    assert _found(idx, text="quokka") == ["long"]
    assert _found(idx, text="utterance 4999") == ["long"]
    assert idx.search(SearchQuery(text="4000")).hits[0].speaker == "agent"
    idx.close()


def _found(idx: SqliteIndex, **kw: Any) -> list[str]:
    return sorted(h.item_id for h in idx.search(SearchQuery(**kw)).hits)


def test_an_index_whose_first_open_stopped_before_its_version_was_written_opens(
    tmp_path: Path,
) -> None:
    path = tmp_path / "index.sqlite"
    idx = SqliteIndex(path)
    idx.ensure()
    idx.upsert([index_doc("a", text="modem")])  # type: ignore[list-item]
    idx.close()
    db = sqlite_module().connect(path)
    db.execute("PRAGMA user_version = 0")
    db.close()
    again = SqliteIndex(path)
    again.ensure()
    assert _found(again, text="modem") == ["a"]
    again.close()


_V2_SECTIONS = """
CREATE VIRTUAL TABLE sections USING fts5(
    text, kind UNINDEXED, speaker UNINDEXED, start_s UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2');
"""


def test_a_version_2_index_gets_stems_in_place_and_finds_what_it_found(tmp_path: Path) -> None:
    """Version 2 had no stems: its items keep matching as written, new items by stem."""
    path = tmp_path / "index.sqlite"
    # A version 2 file: today's schema without the stems column and the language.
    db = sqlite_module().connect(path)
    db.executescript(_V2_SECTIONS
                     + "CREATE TABLE docs (key INTEGER PRIMARY KEY, item_id TEXT NOT NULL "
                       "UNIQUE, channel TEXT NOT NULL, direction TEXT NOT NULL, started_at "
                       "TEXT NOT NULL, restricted INTEGER NOT NULL, held INTEGER NOT NULL, "
                       "title TEXT NOT NULL);")
    db.execute("PRAGMA user_version = 2")
    key = 9 << 18
    db.execute("INSERT INTO docs VALUES (?, 'old', 'email', 'inbound', "
               "'2026-01-01T00:00:00.000000Z', 0, 0, 'Facturen')", (key,))
    db.execute("INSERT INTO sections (rowid, text, kind) VALUES (?, 'Vraag', 'subject')",
               (key << 14,))
    db.execute("INSERT INTO sections (rowid, text, kind) VALUES (?, 'de facturen van maart', "
               "'body')", (key << 14 | 1,))
    db.commit()
    db.close()
    idx = SqliteIndex(path)
    idx.ensure()
    assert _found(idx, text="facturen") == ["old"]
    assert _found(idx, text='"facturen van maart"') == ["old"]
    assert _found(idx, text="vraag maart") == ["old"]  # words of two sections, one item
    assert _found(idx, text='"vraag de"') == []
    assert "<mark>facturen</mark>" in idx.search(SearchQuery(text="facturen")).hits[0].snippet
    idx.upsert([IndexDoc("new", "email", "inbound", datetime(2026, 1, 2, tzinfo=UTC), (), (),
                         ("quality",), False, False, (Section("body", "een factuur"),),
                         language="nl")])
    assert _found(idx, text="facturen") == ["new", "old"]
    idx.close()
    again = SqliteIndex(path)
    again.ensure()
    assert _found(again, text="factuur") == ["new"]
    again.close()
