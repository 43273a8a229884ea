"""Where the embedded index puts things: the schema, its version, and the row-id layout.

Every FTS row id says which item it belongs to, when the item started, which view
it is in and whether the item is restricted, so that the filters a search applies
most often cost nothing per row (no look-up in another table) and a date window
is a row-id range that FTS5 seeks to instead of scanning::

    row id = key << 14 | redacted << 13 | restricted << 12 | section index
    key    = started second since 2000 (clamped to 31 bits) << 18 | item number in that second

``key`` is also the primary key of ``docs``; it changes when an item is
re-indexed, which is why an item's restriction can live in its row ids.

Each FTS row has the section's exact ``text`` (phrases, snippets) and its
``stems`` in the item's language (plain words, ``archive.index.analysis``).
``items`` has one row per item and view (the section bits of its row id zero)
holding all its words in one column: each section's text, separated by
``SECTION_BREAK`` (no phrase spans two sections), then each distinct stem
prefixed with ``STEM_MARK`` (so a phrase never matches a stem and a plain
word's forms match exactly what ``sections.stems`` holds). An item-level AND of
several words is then FTS5's
own doclist intersection, newest first, with no column filter to check per
row: that finds and counts the matching items; ``sections`` ranks them and
gives speakers and snippets.

Versions 1 (before the layout) and 2 (before stems) are upgraded in place from
their own content: no text has to be unsealed again, and an old index file is
never left unreadable. Their items' language is not in the file, so their stems
are their exact tokens (every search that worked still works) until
``commarchive reindex`` rebuilds them from the sealed parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

SCHEMA_VERSION: Final = 3
#: Kind prefix of the FTS rows that hold an item's redacted copy (``IndexDoc.redacted``).
REDACTED_KIND: Final = "redacted:"

SLOT_BITS: Final = 14
SLOT_MASK: Final = (1 << SLOT_BITS) - 1
REDACTED_BIT: Final = 1 << 13
RESTRICTED_BIT: Final = 1 << 12
INDEX_MASK: Final = RESTRICTED_BIT - 1
#: The section index of the synthetic parties row; text sections use 0 .. PARTIES_INDEX - 1.
PARTIES_INDEX: Final = INDEX_MASK
MAX_SECTIONS: Final = PARTIES_INDEX

SECOND_SHIFT: Final = 18
ITEMS_PER_SECOND: Final = 1 << SECOND_SHIFT
MAX_SECOND: Final = (1 << 31) - 1
EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS docs (
    key INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    started_at TEXT NOT NULL,
    restricted INTEGER NOT NULL,
    held INTEGER NOT NULL,
    title TEXT NOT NULL,
    language TEXT
);
CREATE INDEX IF NOT EXISTS docs_newest ON docs(started_at DESC, item_id);
CREATE TABLE IF NOT EXISTS doc_purposes (key INTEGER NOT NULL, purpose TEXT NOT NULL,
    PRIMARY KEY (key, purpose)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS doc_subjects (identifier TEXT NOT NULL, key INTEGER NOT NULL,
    PRIMARY KEY (identifier, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_subjects_key ON doc_subjects(key);
CREATE TABLE IF NOT EXISTS doc_mentions (mention TEXT NOT NULL, key INTEGER NOT NULL,
    PRIMARY KEY (mention, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_mentions_key ON doc_mentions(key);
CREATE VIRTUAL TABLE IF NOT EXISTS sections USING fts5(
    text, stems, kind UNINDEXED, speaker UNINDEXED, start_s UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS items USING fts5(
    words, tokenize = 'unicode61 remove_diacritics 2'
);
"""
#: Between the sections of an item's row in ``items``: a token to FTS5 (a private-use
#: character) that no query has (``\w`` does not match it), so no phrase spans two sections.
SECTION_BREAK: Final = " \ue000 "
#: Before each stem in ``items`` (a private-use character too: part of the token).
STEM_MARK: Final = "\ue001"


def item_words(texts: list[str], stem_tokens: Iterable[str]) -> str:
    """An item's row in ``items``: its sections' texts, then its distinct stems, marked."""
    marked = dict.fromkeys(STEM_MARK + t for t in stem_tokens)
    return SECTION_BREAK.join(texts) + SECTION_BREAK + " ".join(marked)

#: The FTS5 tables: per section, and per item and view.
FTS_TABLES: Final = ("sections", "items")

#: Version 1 tables, renamed aside while an old index is upgraded.
V1_TABLES: Final = ("docs", "doc_purposes", "doc_subjects", "doc_mentions", "section_rows",
                    "sections")


def second_of(value: datetime) -> int:
    """The clamped second ``key`` is built from; monotone, so ordering survives clamping."""
    delta = value.astimezone(UTC) - EPOCH
    seconds = delta.days * 86400 + delta.seconds  # floor, also before the epoch
    return min(max(seconds, 0), MAX_SECOND)


def first_key(second: int) -> int:
    return second << SECOND_SHIFT


def first_rowid(key: int) -> int:
    return key << SLOT_BITS


def key_of(rowid: int) -> int:
    return rowid >> SLOT_BITS
