"""How the embedded index turns a ``SearchQuery`` into SQL: which filters go where.

The matching items come from ``items`` (one FTS row per item and view, all its
words: an AND is FTS5's doclist intersection); ranking and snippets from ``sections``.

Filters the row-id layout holds (view, restriction, date window) are applied
while FTS5 walks its doclists, for free; the others (purposes, channel, subject,
mention, party, item ids, the exact second at a window's edges) are look-ups per
item, made either on the items that matched (few) or on the ranked items a page needs
(when many match). Subject, mention, party and a short list of item ids are selective,
so a query that has one starts from those items and probes FTS5 for its words within
each item.

Item ids (``SearchQuery.item_ids``, ``exclude_ids``) are one JSON array parameter read
by ``json_each``, never an ``IN (?, ?, ...)`` list: any number of them, one statement
shape, and SQLite builds the key set once per statement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from archive.index import SearchQuery
from archive.index import sqlite_layout as lay
from archive.index.analysis import Term
from archive.index.query import iso_utc, parse_query

_PARTY_ROW_MASK = lay.REDACTED_BIT | lay.INDEX_MASK
#: Up to this many wanted item ids, a query starts from those items (a probe per item);
#: with more, from the words' doclists, checking each match against the ids.
SELECTIVE_IDS: Final = 2_000


def _fts_phrase(tokens: tuple[str, ...]) -> str:
    """An exact phrase, in the text column (never the stems)."""
    return 'text : "' + " ".join(tokens).replace('"', '""') + '"'


def _item_term(term: Term) -> str:
    """A term in ``items``' one column: a phrase as it is, a plain word as any stem."""
    if not term.forms:
        return '"' + " ".join(term.tokens).replace('"', '""') + '"'
    return "(" + " OR ".join('"' + lay.STEM_MARK + f.replace('"', '""') + '"'
                             for f in term.forms) + ")"


def _fts_term(term: Term) -> str:
    """A phrase exactly; a plain word as any of its forms in the stems column."""
    if not term.forms:
        return f"({_fts_phrase(term.tokens)})"
    return "(stems : (" + " OR ".join('"' + f.replace('"', '""') + '"'
                                      for f in term.forms) + "))"


@dataclass(slots=True)
class Plan:
    """The SQL pieces of one query; ``params`` go with ``matching_keys``."""

    query: SearchQuery
    terms: list[Term]
    #: One FTS5 expression per term, all of which an item must match.
    phrases: list[str]
    any_phrase: str = ""
    #: Every term as written, in the text column: what snippets mark.
    any_exact: str = ""
    #: Every term, ANDed, on an item's row in ``items``.
    item_match: str = ""
    #: Conditions on ``rowid`` of ``sections`` and their parameters.
    row_conds: list[str] = field(default_factory=list)
    row_params: list[Any] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    party: str | None = None
    #: Any one of several phrases in the parties row (``SearchQuery.any_party``).
    any_party: str | None = None

    @property
    def view_base(self) -> int:
        return lay.REDACTED_BIT if self.query.anonymised else 0

    # -- conditions per item --------------------------------------------------------

    def doc_where(self, d: str) -> tuple[str, list[Any]]:
        """Every filter as conditions on the ``docs`` row aliased ``d``."""
        q = self.query
        where: list[str] = []
        params: list[Any] = []
        if not q.include_restricted:
            where.append(f"{d}.restricted = 0")
        if q.purposes is not None:
            where.append(f"EXISTS (SELECT 1 FROM doc_purposes p WHERE p.key = {d}.key "
                         f"AND p.purpose IN ({','.join('?' * len(q.purposes))}))")
            params += sorted(q.purposes)
        if q.channel:
            where.append(f"{d}.channel = ?")
            params.append(q.channel)
        if q.direction:
            where.append(f"{d}.direction = ?")
            params.append(q.direction)
        if q.since:
            where.append(f"{d}.started_at >= ?")
            params.append(iso_utc(q.since))
        if q.until:
            where.append(f"{d}.started_at < ?")
            params.append(iso_utc(q.until))
        conds, cparams = self._lookups(f"{d}.key")
        return " AND ".join(where + conds) or "1", params + cparams

    def _lookups(self, k: str) -> tuple[list[str], list[Any]]:
        """Subject, mention and party filters on the item whose key is ``k``."""
        q = self.query
        where: list[str] = []
        params: list[Any] = []
        if q.subject:
            where.append(f"{k} IN (SELECT s.key FROM doc_subjects s WHERE s.identifier = ?)")
            params.append(q.subject)
        if q.mention:
            where.append(f"{k} IN (SELECT m.key FROM doc_mentions m WHERE m.mention = ?)")
            params.append(q.mention)
        for party in (self.party, self.any_party):
            if not party:
                continue
            first = f"({k} << {lay.SLOT_BITS})"
            where.append(
                f"EXISTS (SELECT 1 FROM sections WHERE sections MATCH ? AND rowid BETWEEN "
                f"{first} | {lay.PARTIES_INDEX} AND {first} | {lay.RESTRICTED_BIT} | "
                f"{lay.PARTIES_INDEX} AND (rowid & {_PARTY_ROW_MASK}) = {lay.PARTIES_INDEX})")
            params.append(party)
        if q.item_ids is not None:
            where.append(f"{k} IN (SELECT i.key FROM docs i WHERE i.item_id IN "
                         "(SELECT value FROM json_each(?)))")
            params.append(json.dumps(sorted(q.item_ids)))
        if q.exclude_ids:
            where.append(f"{k} NOT IN (SELECT x.key FROM docs x WHERE x.item_id IN "
                         "(SELECT value FROM json_each(?)))")
            params.append(json.dumps(sorted(q.exclude_ids)))
        return where, params

    def _key_where(self, k: str) -> tuple[list[str], list[Any]]:
        """The filters the row ids do not hold, on the item whose key is ``k``, as
        correlated look-ups (for keys that come from FTS5, not from ``docs``)."""
        q = self.query
        where, params = self._lookups(k)
        if q.purposes is not None:
            where.append(f"EXISTS (SELECT 1 FROM doc_purposes p WHERE p.key = {k} "
                         f"AND p.purpose IN ({','.join('?' * len(q.purposes))}))")
            params += sorted(q.purposes)
        if q.channel:
            where.append(f"(SELECT dc.channel FROM docs dc WHERE dc.key = {k}) = ?")
            params.append(q.channel)
        if q.direction:
            where.append(f"(SELECT dd.direction FROM docs dd WHERE dd.key = {k}) = ?")
            params.append(q.direction)
        second = f"({k} >> {lay.SECOND_SHIFT})"
        started = f"(SELECT ds.started_at FROM docs ds WHERE ds.key = {k})"
        if q.since:
            where.append(f"({second} > ? OR {started} >= ?)")
            params += [lay.second_of(q.since), iso_utc(q.since)]
        if q.until:
            where.append(f"({second} < ? OR {started} < ?)")
            params += [lay.second_of(q.until), iso_utc(q.until)]
        return where, params

    def item_matches(self, k: str) -> str:
        """Conditions that the item with key ``k`` holds every phrase (in the view)."""
        # Per section, not on the item's row in ``items``: a look-up in a few short
        # doclist entries is cheaper than in one long row (measured: 3x).
        first = f"(({k} << {lay.SLOT_BITS}) | {self.view_base})"
        return "".join(
            f" AND EXISTS (SELECT 1 FROM sections WHERE sections MATCH ? AND rowid BETWEEN "
            f"{first} AND {first} | {lay.REDACTED_BIT - 1})" for _ in self.phrases)

    def match_params(self) -> list[Any]:
        return list(self.phrases)

    # -- SQL ------------------------------------------------------------------------

    def rank_where(self) -> tuple[str, list[Any]]:
        """Sections to rank: those matching any phrase, in the view, within the row filters."""
        return " AND ".join(["sections MATCH ?", *self.row_conds]), [self.any_phrase,
                                                                      *self.row_params]

    def matching_keys(self) -> str:
        """SQL for the keys of the items the query matches, newest first, a key once per
        matching section (parameters in ``params``)."""
        q = self.query
        few_ids = q.item_ids is not None and len(q.item_ids) <= SELECTIVE_IDS
        if q.subject or q.mention or self.party or self.any_party or few_ids:
            where, params = self.doc_where("d")
            self.params = [*params, *self.match_params()]
            return (f"SELECT d.key FROM docs d WHERE {where}{self.item_matches('d.key')} "
                    "ORDER BY d.key DESC")
        # One row per item and view: FTS5 intersects the words' doclists itself.
        k = f"(items.rowid >> {lay.SLOT_BITS})"
        found = ["items MATCH ?", *self.row_conds]
        self.params = [self.item_match, *self.row_params]
        conds, params = self._key_where(k)
        self.params += params
        return (f"SELECT {k} FROM items WHERE {' AND '.join(found + conds)} "
                "ORDER BY rowid DESC")


def plan_query(query: SearchQuery, terms: list[Term]) -> Plan:
    plan = Plan(query, terms, [_fts_term(t) for t in terms])
    plan.any_phrase = " OR ".join(plan.phrases)
    plan.any_exact = " OR ".join(f"({_fts_phrase(t.tokens)})" for t in terms)
    plan.item_match = " AND ".join(_item_term(t) for t in terms)
    party = parse_query(f'"{query.party}"') if query.party else []
    plan.party = _fts_phrase(party[0]) if party else None
    any_party = [p[0] for p in (parse_query(f'"{a}"') for a in query.any_party) if p]
    if any_party:
        plan.any_party = " OR ".join(f"({_fts_phrase(p)})" for p in any_party)
    plan.row_conds.append(f"(rowid & {lay.REDACTED_BIT}) = {plan.view_base}")
    if not query.include_restricted:
        plan.row_conds.append(f"(rowid & {lay.RESTRICTED_BIT}) = 0")
    if query.since:
        plan.row_conds.append("rowid >= ?")
        plan.row_params.append(lay.first_rowid(lay.first_key(lay.second_of(query.since))))
    if query.until:
        end = lay.second_of(query.until) + 1
        if end <= lay.MAX_SECOND:
            plan.row_conds.append("rowid < ?")
            plan.row_params.append(lay.first_rowid(lay.first_key(end)))
    return plan
