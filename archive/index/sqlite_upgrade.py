"""Upgrading an embedded index written by an older version, in place.

Version 2 only lacks the stems column: its rows are copied with their text as
stems (``upgrade_v2``). Version 1 is rewritten document by document (``upgrade``).

The index is derived, but rebuilding it from the catalog means unsealing every
item again; its own content rows hold everything a document had (text, kinds,
speakers, offsets, parties, the redacted copy), so an old index is rewritten
from itself, in one transaction: an interrupted upgrade leaves the old index as
it was, and the next start tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

from archive.index import IndexDoc
from archive.index import sqlite_layout as lay
from archive.index.query import tokenize
from archive.model import Section

log = logging.getLogger(__name__)

_OLD_INDEXES: Final = ("docs_started", "doc_subjects_identifier", "doc_mentions_mention",
                       "section_rows_item")


def _schema_statements() -> Iterator[str]:
    # One statement at a time: executescript would commit the upgrade's transaction.
    for statement in lay.SCHEMA.split(";"):
        if statement.strip():
            yield statement


def _started(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def upgrade(db: Any, insert: Callable[[IndexDoc], None]) -> int:
    """Rewrite a version 1 index in the current layout; returns the items carried over."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    log.warning("upgrading the search index to schema %d in place", lay.SCHEMA_VERSION)
    db.execute("BEGIN IMMEDIATE")
    try:
        for index in _OLD_INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {index}")
        for table in lay.V1_TABLES:
            if table in tables:
                db.execute(f"ALTER TABLE {table} RENAME TO v1_{table}")
        if "section_rows" not in tables:  # the first layout found rows by scanning
            db.execute("CREATE TABLE v1_section_rows AS "
                       "SELECT rowid AS rid, item_id FROM v1_sections")
        db.execute("CREATE INDEX v1_section_rows_item ON v1_section_rows(item_id, rid)")
        for statement in _schema_statements():
            db.execute(statement)
        done = 0
        ids = [str(r[0]) for r in db.execute("SELECT item_id FROM v1_docs")]
        for item_id in ids:
            insert(_old_doc(db, item_id))
            done += 1
        for table in lay.V1_TABLES:
            db.execute(f"DROP TABLE IF EXISTS v1_{table}")
        db.execute(f"PRAGMA user_version = {lay.SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    log.warning("search index upgraded: %d item(s) carried over", done)
    return done


def upgrade_v2(db: Any) -> None:
    """Give a version 2 index the stems column, its stems being its exact text."""
    log.warning("upgrading the search index to schema %d in place; run `commarchive "
                "reindex` for its items' words to match their other forms", lay.SCHEMA_VERSION)
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("ALTER TABLE docs ADD COLUMN language TEXT")
        db.execute("ALTER TABLE sections RENAME TO v2_sections")
        for statement in _schema_statements():
            db.execute(statement)
        db.execute("INSERT INTO sections (rowid, text, stems, kind, speaker, start_s) "
                   "SELECT rowid, text, text, kind, speaker, start_s FROM v2_sections")
        view = f"(rowid & ~{lay.INDEX_MASK})"  # the row id of the item's row in that view
        rows: dict[int, list[str]] = {}
        for rowid, text in db.execute(f"SELECT {view}, text FROM v2_sections ORDER BY rowid"):
            rows.setdefault(int(rowid), []).append(str(text))
        db.executemany("INSERT INTO items (rowid, words) VALUES (?, ?)",
                       [(rowid, lay.item_words(texts, (t for x in texts for t in tokenize(x))))
                        for rowid, texts in rows.items()])
        db.execute("DROP TABLE v2_sections")
        db.execute(f"PRAGMA user_version = {lay.SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _old_doc(db: Any, item_id: str) -> IndexDoc:
    channel, direction, started_at, restricted, held, title = db.execute(
        "SELECT channel, direction, started_at, restricted, held, title FROM v1_docs "
        "WHERE item_id = ?", (item_id,)).fetchone()

    def values(table: str, column: str) -> tuple[str, ...]:
        return tuple(str(r[0]) for r in db.execute(
            f"SELECT {column} FROM v1_{table} WHERE item_id = ? ORDER BY rowid", (item_id,)))

    sections: list[Section] = []
    redacted: list[Section] = []
    parties: tuple[str, ...] = ()
    for text, kind, speaker, start_s in db.execute(
            "SELECT s.text, s.kind, s.speaker, s.start_s FROM v1_section_rows r "
            "JOIN v1_sections s ON s.rowid = r.rid WHERE r.item_id = ? ORDER BY r.rid",
            (item_id,)):
        kind = str(kind)
        start = None if start_s is None else float(start_s)
        if kind == "parties":
            parties = tuple(str(text).split(" "))
        elif kind.startswith(lay.REDACTED_KIND):
            redacted.append(Section(kind.removeprefix(lay.REDACTED_KIND), str(text), speaker,
                                    start))
        else:
            sections.append(Section(kind, str(text), speaker, start))
    return IndexDoc(
        item_id=item_id, channel=str(channel), direction=str(direction),
        started_at=_started(str(started_at)), parties=parties,
        subjects=values("doc_subjects", "identifier"), purposes=values("doc_purposes", "purpose"),
        restricted=bool(restricted), held=bool(held), sections=tuple(sections),
        title=str(title), mentions=values("doc_mentions", "mention"), redacted=tuple(redacted))
