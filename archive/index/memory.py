"""In-memory search index: real code for unit tests, same semantics as the others."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from archive.index import Hit, IndexDoc, SearchQuery, SearchResult, capped_total
from archive.index.query import make_snippet, parse_query, render_snippet, tokenize
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
        phrases = parse_query(query.text)
        party = parse_query(f'"{query.party}"') if query.party else []
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
            toks = [tokenize(s.text) for s in sections]
            if any(all(_contains(t, p) < 0 for t in toks) for p in phrases):
                continue
            best: Section | None = None
            best_score = 0.0
            for section, stoks in zip(sections, toks, strict=True):
                score = float(sum(1 for p in phrases if _contains(stoks, p) >= 0))
                if score > best_score:
                    best, best_score = section, score
            if best is None:
                snippet = render_snippet(doc.title)
                hit = Hit(doc.item_id, 0.0, snippet, doc.title)
            else:
                hit = Hit(doc.item_id, best_score, make_snippet(best.text, phrases), doc.title,
                          best.speaker, best.start_s)
            scored.append((best_score, doc.started_at.isoformat(), hit))
        scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
        page = scored[query.offset : query.offset + query.limit]
        total, lower_bound = capped_total(len(scored))
        return SearchResult(total, tuple(h for _, _, h in page), lower_bound)


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
    if q.since and doc.started_at < q.since:
        return False
    return not (q.until and doc.started_at >= q.until)
