"""The search-index seam: derived, rebuildable plaintext for search.

The index is the only plaintext at rest; it is rebuilt from the catalog and the
sealed content by ``commarchive reindex`` and an item's document is deleted
with the item.

Every backend keeps two views of an item's text: the original sections (and the
parties field) that every plain search matches, and the redacted copy that an
``anonymised`` query matches, which cannot contain what it never indexed.

Query language (every backend): words are ANDed; ``"quoted phrases"`` match
as phrases, exactly; a plain word also matches the other forms of its stem
in the item's language (``facturen`` finds ``factuur``, see
``archive.index.analysis``); matching is case-insensitive on whole tokens. Snippets are HTML-safe:
text is escaped and matches are wrapped in ``<mark>...</mark>``.

Its errors (``SearchIndexError``, ``IndexUnavailable``) live in ``archive.errors``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from archive.index.query import tokenize
from archive.model import Section


@dataclass(frozen=True, slots=True)
class IndexDoc:
    item_id: str
    channel: str
    direction: str
    started_at: datetime
    #: Party addresses, numbers (several normalisations) and names.
    parties: tuple[str, ...]
    #: Data-subject identifiers (normalised) carried by the item.
    subjects: tuple[str, ...]
    purposes: tuple[str, ...]
    restricted: bool
    held: bool
    sections: tuple[Section, ...]
    title: str = ""
    #: Phone numbers (E.164) and e-mail addresses (lower-case) written in the text, so a
    #: subject lookup finds every written form of them.
    mentions: tuple[str, ...] = ()
    #: The anonymised copy of the text sections (redacted, parties never among them),
    #: the only text an anonymised search matches; empty when no anonymised purpose applies.
    redacted: tuple[Section, ...] = ()
    #: The item's language code (``nl``), which picks the stemmer of its text
    #: (``archive.index.analysis``); None: unknown, its words match only as written.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str = ""
    #: The item must carry at least one of these purposes; None means any.
    purposes: frozenset[str] | None = None
    include_restricted: bool = False
    channel: str | None = None
    #: ``inbound``, ``outbound`` or ``internal``; None means any.
    direction: str | None = None
    #: Matches (as a phrase) within the parties field only.
    party: str | None = None
    #: Matches when any one of these (each as a phrase, like ``party``) is within the
    #: parties field: an agent's several identifiers (an address and a number).
    any_party: tuple[str, ...] = ()
    #: Exact normalised data-subject identifier.
    subject: str | None = None
    #: Exact normalised identifier written in the text (see ``IndexDoc.mentions``).
    mention: str | None = None
    #: Match only the anonymised copy of the text (``IndexDoc.redacted``): never the
    #: parties field, never the original text; snippets are cut from the copy too.
    anonymised: bool = False
    since: datetime | None = None
    until: datetime | None = None
    #: Only items among these ids; None means any. For state that changes all the time
    #: and lives in the catalog (reviews, queue entries): the caller resolves it to ids
    #: at search time instead of copying it into every document (a reindex per review).
    #: Any number of ids, on every backend (Elasticsearch: in chunks, see ``elastic``).
    item_ids: frozenset[str] | None = None
    #: Never items among these ids.
    exclude_ids: frozenset[str] = frozenset()
    limit: int = 20
    offset: int = 0


def matches_nothing(query: SearchQuery) -> bool:
    """True when the query's filters leave no item at all, whatever is indexed: no
    purpose, no id, or only parties without a word (every backend answers 0)."""
    return ((query.purposes is not None and not query.purposes)
            or (query.item_ids is not None and not query.item_ids - query.exclude_ids)
            or (bool(query.any_party) and not any(tokenize(a) for a in query.any_party)))


@dataclass(frozen=True, slots=True)
class Hit:
    item_id: str
    score: float
    snippet: str
    title: str = ""
    #: For transcript matches: who said it and when (seconds into the call).
    speaker: str | None = None
    start_s: float | None = None


#: Totals are exact up to this many items; beyond it every backend reports this number
#: with ``total_is_lower_bound`` ("10,000+"), as search engines do, so that a query
#: matching most of the archive does not pay for counting all of it.
EXACT_TOTAL_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class SearchResult:
    total: int
    hits: tuple[Hit, ...]
    #: True when more than ``EXACT_TOTAL_LIMIT`` items match and ``total`` is that limit.
    total_is_lower_bound: bool = False


def capped_total(count: int) -> tuple[int, bool]:
    """An exact count as a result's (total, total_is_lower_bound)."""
    return (EXACT_TOTAL_LIMIT, True) if count > EXACT_TOTAL_LIMIT else (count, False)


class SearchIndex(Protocol):
    name: str

    def ensure(self) -> None:
        """Create tables/mappings if missing (idempotent)."""
        ...

    def upsert(self, docs: Sequence[IndexDoc]) -> None:
        """Add or replace documents (bulk); visible to search on return."""
        ...

    def delete(self, item_id: str) -> None:
        """Remove an item's document (idempotent)."""
        ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def clear(self) -> None:
        """Remove every document (before a full reindex)."""
        ...

    def count(self) -> int: ...

    def health(self) -> dict[str, object]:
        """Raise IndexUnavailable when not ready; else a small status dict."""
        ...

    def close(self) -> None: ...


def hit_pages(index: SearchIndex, query: SearchQuery, page: int) -> Iterator[list[str]]:
    """The item ids of every hit of ``query`` (its limit and offset ignored), a page at a
    time; raises SearchIndexError if the index fails."""
    offset = 0
    while True:
        result = index.search(dataclasses.replace(query, limit=page, offset=offset))
        if not result.hits:
            return
        yield [h.item_id for h in result.hits]
        offset += page
        if len(result.hits) < page or (offset >= result.total
                                       and not result.total_is_lower_bound):
            return
