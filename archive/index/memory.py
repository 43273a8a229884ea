"""In-memory search index: real code for unit tests, same semantics as the others."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from archive.index import (
    Hit,
    IndexDoc,
    SearchQuery,
    SearchResult,
    capped_total,
    matches_nothing,
)
from archive.index.analysis import Term, parse_terms, snippet, stems
from archive.index.query import parse_query, render_snippet, tokenize
from archive.model import Section


def _contains(tokens: list[str], phrase: tuple[str, ...]) -> int:
    n = len(phrase)
    for i in range(len(tokens) - n + 1):
        if tuple(tokens[i : i + n]) == phrase:
            return i
    return -1


class MemoryIndex:
    name = "memory"

    def __init__(self) -> None:
        self._docs: dict[str, IndexDoc] = {}
        self._lock = threading.Lock()

    def ensure(self) -> None:
        return None

    def upsert(self, docs: Sequence[IndexDoc]) -> None:
        with self._lock:
            for doc in docs:
                self._docs[doc.item_id] = doc

    def delete(self, item_id: str) -> None:
        with self._lock:
            self._docs.pop(item_id, None)

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()

    def count(self) -> int:
        return len(self._docs)

    def health(self) -> dict[str, object]:
        return {"backend": self.name, "documents": len(self._docs)}

    def close(self) -> None:
        return None

    def search(self, query: SearchQuery) -> SearchResult:
        terms = parse_terms(query.text)
        if matches_nothing(query):
            return SearchResult(0, ())
        party = parse_query(f'"{query.party}"') if query.party else []
        any_party = [p[0] for p in (parse_query(f'"{a}"') for a in query.any_party) if p]
        scored: list[tuple[float, str, Hit]] = []
        with self._lock:
            docs = list(self._docs.values())
        for doc in docs:
            if not _filters_pass(doc, query):
                continue
            sections = (list(doc.redacted) if query.anonymised else
                        [*doc.sections, Section(kind="parties", text=" ".join(doc.parties))])
            if party:
                ptoks = tokenize(" ".join(doc.parties))
                if _contains(ptoks, party[0]) < 0:
                    continue
            if query.any_party:
                ptoks = tokenize(" ".join(doc.parties))
                if all(_contains(ptoks, p) < 0 for p in any_party):
                    continue
            found = [_matched(doc, s, terms, query.anonymised) for s in sections]
            if any(all(term not in f for f in found) for term in terms):
                continue
            best: Section | None = None
            best_score = 0.0
            for section, matched in zip(sections, found, strict=True):
                score = float(len(matched))
                if score > best_score:
                    best, best_score = section, score
            if best is None:
                hit = Hit(doc.item_id, 0.0, render_snippet(doc.title), doc.title)
            else:
                hit = Hit(doc.item_id, best_score, snippet(best.text, terms, doc.language),
                          doc.title, best.speaker, best.start_s)
            scored.append((best_score, doc.started_at.isoformat(), hit))
        scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
        page = scored[query.offset : query.offset + query.limit]
        total, lower_bound = capped_total(len(scored))
        return SearchResult(total, tuple(h for _, _, h in page), lower_bound)


def _matched(doc: IndexDoc, section: Section, terms: list[Term], anonymised: bool) -> set[Term]:
    """The terms ``section`` matches: phrases in its tokens, plain words in its stems."""
    tokens = tokenize(section.text)
    parties = section.kind == "parties" and not anonymised
    stemmed = set(tokens if parties else stems(section.text, doc.language).split())
    return {t for t in terms
            if (stemmed.intersection(t.forms) if t.forms else _contains(tokens, t.tokens) >= 0)}


def _filters_pass(doc: IndexDoc, q: SearchQuery) -> bool:
    if q.purposes is not None and not (set(doc.purposes) & q.purposes):
        return False
    if doc.restricted and not q.include_restricted:
        return False
    if q.channel and doc.channel != q.channel:
        return False
    if q.direction and doc.direction != q.direction:
        return False
    if q.subject and q.subject not in doc.subjects:
        return False
    if q.mention and q.mention not in doc.mentions:
        return False
    if q.item_ids is not None and doc.item_id not in q.item_ids:
        return False
    if doc.item_id in q.exclude_ids:
        return False
    if q.since and doc.started_at < q.since:
        return False
    return not (q.until and doc.started_at >= q.until)
