"""Embedded search index on SQLite FTS5, in its own database file.

One FTS row per section (subject, body, attachment, transcript utterance,
parties), so a hit can say which speaker said the words and when. All query
words must occur somewhere in the item, not necessarily in one section.
Erased text must not linger in the file: the content rows are overwritten
(``secure_delete`` pragma) and the inverted index drops the tokens at once with
FTS5's ``secure-delete`` option (SQLite >= 3.44, from ``pysqlite3-binary`` where
the system SQLite is older). Without it, deletes are followed by ``optimize``
every few deletes: SQLite 3.40 corrupts an FTS5 index that is optimized after
each of ~1,500 single-row deletes.
"""

from __future__ import annotations

import importlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from archive.errors import IndexUnavailable
from archive.index import Hit, IndexDoc, SearchQuery, SearchResult
from archive.index.query import MARK_CLOSE, MARK_OPEN, iso_utc, parse_query, render_snippet

SNIPPET_TOKENS: Final = 12
OPTIMIZE_EVERY_DELETES: Final = 50


def _sqlite_module() -> ModuleType:
    """The newest SQLite binding available (FTS5 secure-delete needs 3.44+)."""
    try:
        newer = importlib.import_module("pysqlite3.dbapi2")
    except ImportError:
        return sqlite3
    return newer if newer.sqlite_version_info >= (3, 44) else sqlite3
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS docs (
    item_id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    started_at TEXT NOT NULL,
    restricted INTEGER NOT NULL,
    held INTEGER NOT NULL,
    title TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_started ON docs(started_at);
CREATE TABLE IF NOT EXISTS doc_purposes (item_id TEXT NOT NULL, purpose TEXT NOT NULL,
    PRIMARY KEY (item_id, purpose));
CREATE TABLE IF NOT EXISTS doc_subjects (item_id TEXT NOT NULL, identifier TEXT NOT NULL,
    PRIMARY KEY (item_id, identifier));
CREATE INDEX IF NOT EXISTS doc_subjects_identifier ON doc_subjects(identifier);
CREATE TABLE IF NOT EXISTS doc_mentions (item_id TEXT NOT NULL, mention TEXT NOT NULL,
    PRIMARY KEY (item_id, mention));
CREATE INDEX IF NOT EXISTS doc_mentions_mention ON doc_mentions(mention);
CREATE TABLE IF NOT EXISTS section_rows (rid INTEGER PRIMARY KEY, item_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS section_rows_item ON section_rows(item_id);
CREATE VIRTUAL TABLE IF NOT EXISTS sections USING fts5(
    text, item_id UNINDEXED, kind UNINDEXED, speaker UNINDEXED, start_s UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
"""


#: Kind prefix of the FTS rows that hold an item's redacted copy (``IndexDoc.redacted``).
REDACTED_KIND: Final = "redacted:"


def _view_clause(anonymised: bool) -> str:
    """Which FTS rows a query may match: the redacted copy, or everything else."""
    return f"kind {'' if anonymised else 'NOT '}LIKE '{REDACTED_KIND}%'"


def _fts_phrase(tokens: tuple[str, ...]) -> str:
    return '"' + " ".join(tokens).replace('"', '""') + '"'


class SqliteIndex:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._sqlite = _sqlite_module()
        self.secure_delete = self._sqlite.sqlite_version_info >= (3, 44)
        try:
            self._db = self._sqlite.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA secure_delete=ON")
            # Derived and rebuildable: no fsync per commit (WAL keeps it consistent).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
        except self._sqlite.Error as exc:
            raise IndexUnavailable(reason=str(exc)) from exc
        self._deletes_since_optimize = 0

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            with self._lock:
                rows: list[Any] = self._db.execute(sql, params).fetchall()
                return rows
        except self._sqlite.OperationalError as exc:
            raise IndexUnavailable(reason=str(exc)) from exc

    def ensure(self) -> None:
        with self._lock:
            self._db.executescript(_SCHEMA)
            if self.secure_delete:
                self._db.execute(
                    "INSERT INTO sections(sections, rank) VALUES ('secure-delete', 1)")

    def _delete_rows(self, item_id: str) -> None:
        # FTS rows are found through the indexed side table, never by scanning.
        self._db.execute(
            "DELETE FROM sections WHERE rowid IN "
            "(SELECT rid FROM section_rows WHERE item_id = ?)", (item_id,))
        for table in ("docs", "doc_purposes", "doc_subjects", "doc_mentions", "section_rows"):
            self._db.execute(f"DELETE FROM {table} WHERE item_id = ?", (item_id,))

    def upsert(self, docs: Sequence[IndexDoc]) -> None:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    ids = [doc.item_id for doc in docs]
                    marks = ",".join("?" * len(ids))
                    indexed = {r[0] for r in self._db.execute(
                        f"SELECT item_id FROM docs WHERE item_id IN ({marks})", ids)}
                    for doc in docs:
                        if doc.item_id in indexed:  # a new item has nothing to replace
                            self._delete_rows(doc.item_id)
                        self._insert(doc)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except self._sqlite.OperationalError as exc:
            raise IndexUnavailable(reason=str(exc)) from exc

    def _insert(self, doc: IndexDoc) -> None:
        self._db.execute(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (doc.item_id, doc.channel, doc.direction, iso_utc(doc.started_at),
             int(doc.restricted), int(doc.held), doc.title),
        )
        self._db.executemany(
            "INSERT OR IGNORE INTO doc_purposes VALUES (?, ?)",
            [(doc.item_id, p) for p in doc.purposes],
        )
        self._db.executemany(
            "INSERT OR IGNORE INTO doc_subjects VALUES (?, ?)",
            [(doc.item_id, s) for s in doc.subjects],
        )
        self._db.executemany(
            "INSERT OR IGNORE INTO doc_mentions VALUES (?, ?)",
            [(doc.item_id, m) for m in doc.mentions],
        )
        rows = [(s.text, doc.item_id, s.kind, s.speaker, s.start_s) for s in doc.sections]
        if doc.parties:
            rows.append((" ".join(doc.parties), doc.item_id, "parties", None, None))
        rows += [(s.text, doc.item_id, REDACTED_KIND + s.kind, s.speaker, s.start_s)
                 for s in doc.redacted]
        for row in rows:
            cur = self._db.execute(
                "INSERT INTO sections (text, item_id, kind, speaker, start_s) "
                "VALUES (?, ?, ?, ?, ?)", row)
            self._db.execute("INSERT INTO section_rows VALUES (?, ?)",
                             (cur.lastrowid, doc.item_id))

    def delete(self, item_id: str) -> None:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._delete_rows(item_id)
                self._db.execute("COMMIT")
                if not self.secure_delete:
                    self._deletes_since_optimize += 1
                    if self._deletes_since_optimize >= OPTIMIZE_EVERY_DELETES:
                        self._optimize()
                # Old page images of the erased text must not wait in the WAL.
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except self._sqlite.OperationalError as exc:
            raise IndexUnavailable(reason=str(exc)) from exc

    def _optimize(self) -> None:
        """Merge FTS segments, dropping deleted entries' tokens from the file."""
        self._db.execute("INSERT INTO sections(sections) VALUES ('optimize')")
        self._deletes_since_optimize = 0

    def clear(self) -> None:
        with self._lock:
            for table in ("docs", "doc_purposes", "doc_subjects", "doc_mentions",
                          "section_rows", "sections"):
                self._db.execute(f"DELETE FROM {table}")
            self._optimize()
            self._db.execute("VACUUM")

    def count(self) -> int:
        return int(self._exec("SELECT count(*) FROM docs")[0][0])

    def health(self) -> dict[str, object]:
        return {"backend": self.name, "documents": self.count()}

    def close(self) -> None:
        with self._lock:
            if self._deletes_since_optimize:
                self._optimize()
            self._db.close()

    def search(self, query: SearchQuery) -> SearchResult:
        where: list[str] = []
        params: list[Any] = []
        if query.purposes is not None:
            if not query.purposes:
                return SearchResult(0, ())
            marks = ",".join("?" * len(query.purposes))
            where.append(
                f"EXISTS (SELECT 1 FROM doc_purposes p WHERE p.item_id = d.item_id "
                f"AND p.purpose IN ({marks}))"
            )
            params.extend(sorted(query.purposes))
        if not query.include_restricted:
            where.append("d.restricted = 0")
        if query.channel:
            where.append("d.channel = ?")
            params.append(query.channel)
        if query.subject:
            where.append("d.item_id IN (SELECT item_id FROM doc_subjects WHERE identifier = ?)")
            params.append(query.subject)
        if query.mention:
            where.append("d.item_id IN (SELECT item_id FROM doc_mentions WHERE mention = ?)")
            params.append(query.mention)
        if query.since:
            where.append("d.started_at >= ?")
            params.append(iso_utc(query.since))
        if query.until:
            where.append("d.started_at < ?")
            params.append(iso_utc(query.until))
        party = parse_query(f'"{query.party}"') if query.party else []
        if party:
            where.append(
                "d.item_id IN (SELECT item_id FROM sections WHERE sections MATCH ? "
                "AND kind = 'parties')"
            )
            params.append(_fts_phrase(party[0]))
        phrases = parse_query(query.text)
        if query.text.strip() and not phrases:
            return SearchResult(0, ())
        view = _view_clause(query.anonymised)
        for phrase in phrases:
            where.append("d.item_id IN (SELECT item_id FROM sections WHERE sections MATCH ? "
                         f"AND {view})")
            params.append(_fts_phrase(phrase))
        clause = " AND ".join(where) or "1"
        total = int(self._exec(f"SELECT count(*) FROM docs d WHERE {clause}", params)[0][0])
        if not total:
            return SearchResult(0, ())
        if not phrases:
            rows = self._exec(
                f"SELECT d.item_id, d.title FROM docs d WHERE {clause} "
                "ORDER BY d.started_at DESC LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            )
            return SearchResult(
                total, tuple(Hit(r[0], 0.0, render_snippet(r[1]), r[1]) for r in rows)
            )
        any_match = " OR ".join(_fts_phrase(p) for p in phrases)
        rows = self._exec(
            f"""
            WITH ranked AS MATERIALIZED (
                SELECT item_id, rowid AS rid, rank AS score FROM sections
                WHERE sections MATCH ? AND {view}
                  AND item_id IN (SELECT d.item_id FROM docs d WHERE {clause})
            ), best AS (
                SELECT item_id, rid, min(score) AS score FROM ranked GROUP BY item_id
            )
            SELECT b.item_id, b.rid, b.score, d.title
            FROM best b JOIN docs d ON d.item_id = b.item_id
            ORDER BY b.score ASC, d.started_at DESC LIMIT ? OFFSET ?
            """,
            [any_match, *params, query.limit, query.offset],
        )
        hits = []
        for item_id, rid, score, title in rows:
            # SQLite's min() aggregate carries the bare column of the best row along.
            snip = self._exec(
                "SELECT snippet(sections, 0, ?, ?, '…', ?), speaker, start_s FROM sections "
                "WHERE sections MATCH ? AND rowid = ?",
                [MARK_OPEN, MARK_CLOSE, SNIPPET_TOKENS, any_match, rid],
            )
            text, speaker, start_s = snip[0] if snip else (title, None, None)
            hits.append(
                Hit(item_id, -float(score), render_snippet(text), title, speaker,
                    None if start_s is None else float(start_s))
            )
        return SearchResult(total, tuple(hits))
