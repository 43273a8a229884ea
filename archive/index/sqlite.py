"""Embedded search index on SQLite FTS5, in its own database file.

One FTS row per section (subject, body, attachment, transcript utterance,
parties), so a hit can say which speaker said the words and when, and one per
item and view with all its words (``items``). All query words must occur
somewhere in the item, not necessarily in one section; each section row has its
exact text (phrases) and its stems (plain words, ``archive.index.analysis``).

Searching ranks only what the page needs. The matching items are found newest
first in ``items`` (FTS5 intersects the words' doclists), with the cheap filters
(view, restricted, date window) in the FTS row ids
(``archive.index.sqlite_layout``), up to ``EXACT_TOTAL_LIMIT + 1`` of them. When
that many or fewer match, the total is exact and the sections of exactly those
items are ranked by bm25 (the order Elasticsearch gives: best section, then
newest, then item id). When more match, the total is "10,000+" and the page is
ranked among the newest ``RANK_WINDOW_ITEMS`` matches, its items checked against
the other filters after ranking: bm25 costs a look-up per section, so ranking
every match of a common word grows with the archive (ES's block-max WAND has no
FTS5 counterpart). Either way sections come in bm25 order, cut at a few times
the page, and are grouped to items.

Erased text must not linger in the file: the content rows are overwritten
(``secure_delete`` pragma) and the inverted index drops the tokens at once with
FTS5's ``secure-delete`` option (SQLite >= 3.44, from ``pysqlite3-binary`` where
the system SQLite is older). Without it, deletes are followed by ``optimize``
every few deletes: SQLite 3.40 corrupts an FTS5 index that is optimized after
each of ~1,500 single-row deletes.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from archive.errors import IndexUnavailable
from archive.index import (
    EXACT_TOTAL_LIMIT,
    Hit,
    IndexDoc,
    SearchQuery,
    SearchResult,
    matches_nothing,
)
from archive.index import sqlite_layout as lay
from archive.index.analysis import analyser, parse_terms, snippet
from archive.index.query import MARK_CLOSE, MARK_OPEN, iso_utc, render_snippet, tokenize
from archive.index.sqlite_search import Plan, plan_query
from archive.model import Section

SNIPPET_TOKENS: Final = 12
OPTIMIZE_EVERY_DELETES: Final = 50
CACHE_KIB: Final = 64 * 1024
#: Sections ranked per item wanted on the page, before asking for more.
RANK_ROWS_PER_ITEM: Final = 4
#: When more than EXACT_TOTAL_LIMIT items match, the page is ranked among the newest this
#: many (bm25 costs a look-up per section, so ranking all of them grows with the archive).
RANK_WINDOW_ITEMS: Final = 2_000


def sqlite_module() -> ModuleType:
    """The newest SQLite binding available (FTS5 secure-delete needs 3.44+)."""
    try:
        newer = importlib.import_module("pysqlite3.dbapi2")
    except ImportError:
        return sqlite3
    return newer if newer.sqlite_version_info >= (3, 44) else sqlite3


def _fit(sections: Sequence[Section]) -> list[Section]:
    """At most ``MAX_SECTIONS`` sections: the text of any beyond joins the last one."""
    if len(sections) <= lay.MAX_SECTIONS:
        return list(sections)
    keep = list(sections[: lay.MAX_SECTIONS - 1])
    rest = sections[lay.MAX_SECTIONS - 1 :]
    first = rest[0]
    keep.append(Section(first.kind, " ".join(s.text for s in rest), first.speaker,
                        first.start_s))
    return keep


class SqliteIndex:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._sqlite = sqlite_module()
        self.secure_delete = self._sqlite.sqlite_version_info >= (3, 44)
        try:
            self._db = self._sqlite.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA secure_delete=ON")
            # Derived and rebuildable: no fsync per commit (WAL keeps it consistent).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            # Keys follow start times, not arrival: a reindex or backfill writes all over
            # the tables, which the default 2 MiB page cache turns into disk reads.
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
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

    # -- lifecycle ---------------------------------------------------------

    def ensure(self) -> None:
        """Create the schema, or upgrade an index written by an older version in place."""
        from archive.index.sqlite_upgrade import upgrade, upgrade_v2

        try:
            with self._lock:
                version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
                if version > lay.SCHEMA_VERSION:
                    raise IndexUnavailable(
                        reason=f"{self.path} has index schema {version}, newer than this "
                               f"version reads ({lay.SCHEMA_VERSION}): run `commarchive "
                               "reindex` with this version, or upgrade")
                columns = {r[1] for r in self._db.execute("PRAGMA table_info(docs)")}
                old = bool(columns) and "key" not in columns  # version 1 keyed by item id
                if version < lay.SCHEMA_VERSION and old:
                    upgrade(self._db, self._insert)
                elif version < lay.SCHEMA_VERSION and "language" not in columns and columns:
                    upgrade_v2(self._db)
                self._db.executescript(lay.SCHEMA)
                self._db.execute(f"PRAGMA user_version = {lay.SCHEMA_VERSION}")
                if self.secure_delete:
                    for table in lay.FTS_TABLES:
                        self._db.execute(
                            f"INSERT INTO {table}({table}, rank) VALUES ('secure-delete', 1)")
        except self._sqlite.Error as exc:
            raise IndexUnavailable(reason=str(exc)) from exc

    def clear(self) -> None:
        with self._lock:
            for table in ("docs", "doc_purposes", "doc_subjects", "doc_mentions",
                          *lay.FTS_TABLES):
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

    # -- writes ------------------------------------------------------------

    def _delete_key(self, key: int) -> None:
        first = lay.first_rowid(key)
        for table in lay.FTS_TABLES:
            self._db.execute(f"DELETE FROM {table} WHERE rowid BETWEEN ? AND ?",
                             (first, first | lay.SLOT_MASK))
        for table in ("docs", "doc_purposes", "doc_subjects", "doc_mentions"):
            self._db.execute(f"DELETE FROM {table} WHERE key = ?", (key,))

    def upsert(self, docs: Sequence[IndexDoc]) -> None:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    ids = [doc.item_id for doc in docs]
                    marks = ",".join("?" * len(ids))
                    for (key,) in self._db.execute(
                            f"SELECT key FROM docs WHERE item_id IN ({marks})", ids).fetchall():
                        self._delete_key(int(key))
                    for doc in docs:
                        self._insert(doc)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except self._sqlite.OperationalError as exc:
            raise IndexUnavailable(reason=str(exc)) from exc

    def _new_key(self, doc: IndexDoc) -> int:
        first = lay.first_key(lay.second_of(doc.started_at))
        last = first + lay.ITEMS_PER_SECOND - 1
        top = self._db.execute("SELECT max(key) FROM docs WHERE key BETWEEN ? AND ?",
                               (first, last)).fetchone()[0]
        key = first if top is None else int(top) + 1
        if key > last:
            raise IndexUnavailable(
                reason=f"item {doc.item_id}: more than {lay.ITEMS_PER_SECOND} indexed items "
                       f"start in the second of {iso_utc(doc.started_at)}")
        return key

    def _insert(self, doc: IndexDoc) -> None:
        """Insert a document that is not in the index (inside the caller's transaction)."""
        key = self._new_key(doc)
        self._db.execute(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, doc.item_id, doc.channel, doc.direction, iso_utc(doc.started_at),
             int(doc.restricted), int(doc.held), doc.title, doc.language),
        )
        self._db.executemany("INSERT OR IGNORE INTO doc_purposes VALUES (?, ?)",
                             [(key, p) for p in doc.purposes])
        self._db.executemany("INSERT OR IGNORE INTO doc_subjects VALUES (?, ?)",
                             [(s, key) for s in doc.subjects])
        self._db.executemany("INSERT OR IGNORE INTO doc_mentions VALUES (?, ?)",
                             [(m, key) for m in doc.mentions])
        base = lay.first_rowid(key) | (lay.RESTRICTED_BIT if doc.restricted else 0)
        analysed = analyser(doc.language)
        # Per row: (row id, text, its stems, kind, speaker, start), and its distinct stems.
        rows: list[tuple[int, str, str, str, str | None, float | None]] = []
        distinct: list[tuple[str, ...]] = []
        for i, s in enumerate(_fit(doc.sections)):
            stemmed = analysed(s.text)
            rows.append((base | i, s.text, stemmed.text, s.kind, s.speaker, s.start_s))
            distinct.append(stemmed.distinct)
        if doc.parties:
            parties = " ".join(doc.parties)  # addresses and names: no language of their own
            rows.append((base | lay.PARTIES_INDEX, parties, parties, "parties", None, None))
            distinct.append(tuple(tokenize(parties)))
        for i, s in enumerate(_fit(doc.redacted)):
            stemmed = analysed(s.text)
            rows.append((base | lay.REDACTED_BIT | i, s.text, stemmed.text,
                         lay.REDACTED_KIND + s.kind, s.speaker, s.start_s))
            distinct.append(stemmed.distinct)
        self._db.executemany(
            "INSERT INTO sections (rowid, text, stems, kind, speaker, start_s) "
            "VALUES (?, ?, ?, ?, ?, ?)", rows)
        for view in (base, base | lay.REDACTED_BIT):
            part = [n for n, r in enumerate(rows)
                    if r[0] & lay.REDACTED_BIT == view & lay.REDACTED_BIT]
            if part:
                self._db.execute("INSERT INTO items (rowid, words) VALUES (?, ?)", (
                    view, lay.item_words([rows[n][1] for n in part],
                                         (t for n in part for t in distinct[n]))))

    def delete(self, item_id: str) -> None:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                for (key,) in self._db.execute(
                        "SELECT key FROM docs WHERE item_id = ?", (item_id,)).fetchall():
                    self._delete_key(int(key))
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
        for table in lay.FTS_TABLES:
            self._db.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
        self._deletes_since_optimize = 0

    # -- search ------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResult:
        if matches_nothing(query):
            return SearchResult(0, ())
        terms = parse_terms(query.text)
        if query.text.strip() and not terms:
            return SearchResult(0, ())
        plan = plan_query(query, terms)
        if not terms:
            return self._listing(query, plan)
        keys = self._newest_keys(plan)
        if not keys:
            return SearchResult(0, ())
        if len(keys) <= EXACT_TOTAL_LIMIT:  # few: rank exactly those
            page = self._ranked_page(query, plan, only=keys)
            return SearchResult(len(keys), tuple(self._hit(plan, *row) for row in page))
        # Many: rank the sections of the newest RANK_WINDOW_ITEMS matches (found by the
        # count), unless the page lies beyond them; filters are checked after ranking.
        shallow = query.offset + query.limit <= RANK_WINDOW_ITEMS // 2
        page = self._ranked_page(
            query, plan, since_key=keys[RANK_WINDOW_ITEMS - 1] if shallow else None)
        return SearchResult(EXACT_TOTAL_LIMIT, tuple(self._hit(plan, *row) for row in page),
                            True)

    def _newest_keys(self, plan: Plan) -> list[int]:
        """The keys of up to ``EXACT_TOTAL_LIMIT + 1`` matching items, newest first."""
        keys: dict[int, None] = {}
        try:
            with self._lock:
                cursor = self._db.execute(plan.matching_keys(), plan.params)
                while len(keys) <= EXACT_TOTAL_LIMIT:
                    rows = cursor.fetchmany(1000)
                    if not rows:
                        break
                    keys.update(dict.fromkeys(int(r[0]) for r in rows))
                cursor.close()
        except self._sqlite.OperationalError as exc:
            raise IndexUnavailable(reason=str(exc)) from exc
        return list(keys)[: EXACT_TOTAL_LIMIT + 1]

    def _listing(self, query: SearchQuery, plan: Plan) -> SearchResult:
        where, params = plan.doc_where("d")
        count = int(self._exec(
            f"SELECT count(*) FROM (SELECT 1 FROM docs d WHERE {where} LIMIT ?)",
            [*params, EXACT_TOTAL_LIMIT + 1])[0][0])
        if not count:
            return SearchResult(0, ())
        rows = self._exec(
            f"SELECT d.item_id, d.title FROM docs d WHERE {where} "
            "ORDER BY d.started_at DESC, d.item_id ASC LIMIT ? OFFSET ?",
            [*params, query.limit, query.offset])
        hits = tuple(Hit(r[0], 0.0, render_snippet(r[1]), r[1]) for r in rows)
        return SearchResult(min(count, EXACT_TOTAL_LIMIT), hits, count > EXACT_TOTAL_LIMIT)

    def _ranked_page(
        self, query: SearchQuery, plan: Plan, *, only: list[int] | None = None,
        since_key: int | None = None,
    ) -> list[tuple[int, int, float, str, str]]:
        """The page's items as (key, best section row id, bm25, item id, title), in order.

        Ranks the sections of the ``only`` items (which passed every filter), else those
        from ``since_key`` on (or all), checking each ranked item against the filters.
        Sections come in bm25 order, ``want * RANK_ROWS_PER_ITEM`` at a time; the cut is
        exact once no section not yet read can come before the page's last item, or when
        every section in question has been read.
        """
        want = query.offset + query.limit
        fetch = max(64, want * RANK_ROWS_PER_ITEM)
        where, params = plan.rank_where()
        if only is not None:
            where += f" AND (rowid >> {lay.SLOT_BITS}) IN (SELECT value FROM json_each(?))"
            params = [*params, json.dumps(only)]
        elif since_key is not None:
            where += " AND rowid >= ?"
            params = [*params, lay.first_rowid(since_key)]
        while True:
            # Newest first among equal scores, as the items are ordered: a cut inside a
            # run of ties (one common word scores the same in many sections) is exact
            # once the page's last item is in a later second than the last row read.
            rows = self._exec(
                f"SELECT rowid, bm25(sections) AS s FROM sections WHERE {where} "
                "ORDER BY s, rowid DESC LIMIT ?", [*params, fetch])
            best: dict[int, tuple[int, float]] = {}
            for rowid, score in rows:
                best.setdefault(lay.key_of(int(rowid)), (int(rowid), float(score)))
            items = self._accepted(plan, best, only is None)
            if len(rows) < fetch:
                return items[query.offset : want]
            if len(items) >= want:
                key, _, score, _, _ = items[want - 1]
                last_key, last_score = lay.key_of(int(rows[-1][0])), float(rows[-1][1])
                if score < last_score or (score == last_score and key >> lay.SECOND_SHIFT
                                          > last_key >> lay.SECOND_SHIFT):
                    return items[query.offset : want]
            fetch *= 4

    def _accepted(
        self, plan: Plan, best: dict[int, tuple[int, float]], check: bool
    ) -> list[tuple[int, int, float, str, str]]:
        """Ranked items with their doc rows; with ``check``, only those passing every filter."""
        if not best:
            return []
        keys = list(best)
        where, params = plan.doc_where("d") if check else ("1", [])
        matched = plan.item_matches("d.key") if check else ""
        rows = self._exec(
            f"SELECT d.key, d.item_id, d.title, d.started_at FROM docs d "
            f"WHERE d.key IN (SELECT value FROM json_each(?)) AND {where} {matched}",
            [json.dumps(keys), *params, *(plan.match_params() if check else [])])
        items = [(int(k), best[int(k)][0], best[int(k)][1], str(i), str(t), str(s))
                 for k, i, t, s in rows]
        # Best score first; ties newest first, then by item id (as Elasticsearch sorts).
        items.sort(key=lambda r: r[3])
        items.sort(key=lambda r: r[5], reverse=True)
        items.sort(key=lambda r: r[2])
        return [(k, rid, score, item_id, title) for k, rid, score, item_id, title, _ in items]

    def _hit(self, plan: Plan, key: int, rowid: int, score: float, item_id: str,
             title: str) -> Hit:
        snip = self._exec(
            "SELECT snippet(sections, 0, ?, ?, '…', ?), speaker, start_s FROM sections "
            "WHERE sections MATCH ? AND rowid = ?",
            [MARK_OPEN, MARK_CLOSE, SNIPPET_TOKENS, plan.any_exact, rowid])
        if snip and MARK_OPEN in str(snip[0][0]):
            text, speaker, start_s = snip[0]
            marked = render_snippet(text)
        else:  # the words matched as other forms of their stems: marked here
            row = self._exec(
                "SELECT s.text, s.speaker, s.start_s, d.language FROM sections s, docs d "
                "WHERE s.rowid = ? AND d.key = ?", [rowid, key])
            text, speaker, start_s, language = row[0] if row else (title, None, None, None)
            marked = snippet(str(text), plan.terms, language)
        return Hit(item_id, -score, marked, title, speaker,
                   None if start_s is None else float(start_s))
