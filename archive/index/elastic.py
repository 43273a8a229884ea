"""Scale-out search index on Elasticsearch (8.19, see ``scripts/es-version``).

One ES document per item, its sections (plus a synthetic ``parties`` section)
as ``nested`` documents, so that totals count items while the best-matching
section, with its speaker and offset, comes back as an inner hit.

Tokens are made here, by the query language's own tokenizer (case and
diacritics folded, ``\\w+`` words), and indexed space-separated under the
``standard`` analyzer: the minimal distribution the tests run has no folding
filters, and this way every backend splits and folds text identically. The
original section text stays in ``_source`` only, and snippets are cut from it
here, with the same marks as the embedded backends. Beside its tokens, each
section has its ``stems`` in the item's language, made here too
(``archive.index.analysis``: the minimal distribution has no language analyzers
either), which plain query words match in any of their forms; phrases match
the tokens.

Item-id filters (``SearchQuery.item_ids``, ``exclude_ids``) are ``terms`` queries on
``item_id``. One ``terms`` query takes at most ``index.max_terms_count`` values
(65,536 by default: ES refuses the whole search beyond it), so a longer list is
sent as several of them, ``MAX_TERMS_PER_QUERY`` ids each (should: any of them;
must_not: none of them); the request grows with the list, about 40 bytes an id.

Client errors are converted to :class:`~archive.errors.IndexUnavailable` where
they enter (every call to ``self._es`` goes through ``_call``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, TypeVar

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from archive.errors import IndexUnavailable
from archive.index import (
    EXACT_TOTAL_LIMIT,
    Hit,
    IndexDoc,
    SearchQuery,
    SearchResult,
    matches_nothing,
)
from archive.index.analysis import Term, analyser, parse_terms, snippet, token_text
from archive.index.query import iso_utc, parse_query, render_snippet
from archive.model import Section

BULK_CHUNK_DOCS: Final = 500
MAX_RESULT_WINDOW: Final = 100_000
_TEMPLATE_PRIORITY: Final = 200
#: Ids per ``terms`` query: the default ``index.max_terms_count``.
MAX_TERMS_PER_QUERY: Final = 65_536

_T = TypeVar("_T")

_TOKENS: Final[dict[str, Any]] = {"type": "text", "analyzer": "standard"}
_STORED_ONLY: Final[dict[str, Any]] = {"type": "text", "index": False}

#: Mapping properties; ``ensure`` adds new ones to an existing index.
PROPERTIES: Final[dict[str, Any]] = {
    "item_id": {"type": "keyword"},
    "channel": {"type": "keyword"},
    "direction": {"type": "keyword"},
    "started_at": {"type": "date", "format": "strict_date_optional_time"},
    "parties": {"type": "keyword"},
    "parties_tokens": _TOKENS,
    "subjects": {"type": "keyword"},
    "mentions": {"type": "keyword"},
    "purposes": {"type": "keyword"},
    "restricted": {"type": "boolean"},
    "held": {"type": "boolean"},
    "title": _STORED_ONLY,
    "language": {"type": "keyword"},
    "sections": {
        "type": "nested",
        "properties": {
            "pos": {"type": "integer"},
            "kind": {"type": "keyword"},
            "speaker": {"type": "keyword"},
            "start_s": {"type": "double"},
            "text": _STORED_ONLY,
            "tokens": _TOKENS,
            "stems": _TOKENS,
        },
    },
}

MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    # Tokens are derived from the text beside them: index them, don't store them twice.
    "_source": {"excludes": ["parties_tokens", "sections.tokens", "sections.stems"]},
    "properties": PROPERTIES,
}

SETTINGS: Final[dict[str, Any]] = {
    "number_of_shards": 1,
    "auto_expand_replicas": "0-1",
    # Erased items' text must not linger in segments: see ``delete``.
    "merge.policy.expunge_deletes_allowed": 0,
    # Paging as deep as the embedded backends allow, within reason (default 10,000).
    "max_result_window": MAX_RESULT_WINDOW,
}


def _token_text(text: str) -> str:
    return token_text(text)


def _phrase_text(phrase: tuple[str, ...]) -> str:
    return " ".join(phrase)


#: Kind prefix of the nested sections that hold an item's redacted copy.
REDACTED_KIND: Final = "redacted:"


def _source(doc: IndexDoc) -> dict[str, Any]:
    sections: list[Section] = list(doc.sections)
    if doc.parties:
        sections.append(Section(kind="parties", text=" ".join(doc.parties)))
    sections += [Section(REDACTED_KIND + s.kind, s.text, s.speaker, s.start_s)
                 for s in doc.redacted]
    # Each distinct text once: a redacted copy with nothing to redact is its section's text.
    tokens = {text: _token_text(text) for text in dict.fromkeys(s.text for s in sections)}
    analysed = analyser(doc.language)
    return {
        "item_id": doc.item_id,
        "channel": str(doc.channel),
        "direction": str(doc.direction),
        "started_at": iso_utc(doc.started_at),
        "parties": list(doc.parties),
        "parties_tokens": _token_text(" ".join(doc.parties)),
        "subjects": list(doc.subjects),
        "mentions": list(doc.mentions),
        "purposes": list(doc.purposes),
        "restricted": doc.restricted,
        "held": doc.held,
        "title": doc.title,
        "language": doc.language,
        "sections": [
            {
                "pos": pos,
                "kind": s.kind,
                "speaker": s.speaker,
                "start_s": s.start_s,
                "text": s.text,
                "tokens": tokens[s.text],
                # Addresses and names have no language of their own.
                "stems": tokens[s.text] if s.kind == "parties" else analysed(s.text).text,
            }
            for pos, s in enumerate(sections)
        ],
    }


def _term_query(term: Term) -> dict[str, Any]:
    """A phrase exactly; a plain word as any of its forms in the stems (in a section
    indexed before stems existed, as written, so it is found until a reindex)."""
    exact = {"match_phrase": {"sections.tokens": {"query": _phrase_text(term.tokens)}}}
    if not term.forms:
        return exact
    return {"bool": {"should": [
        {"match": {"sections.stems": {"query": " ".join(term.forms)}}},
        {"bool": {"must": [exact], "must_not": [{"exists": {"field": "sections.stems"}}]}},
    ], "minimum_should_match": 1}}


def _id_queries(ids: frozenset[str]) -> list[dict[str, Any]]:
    """``terms`` queries on the item id, none longer than ES takes (see the docstring)."""
    ordered = sorted(ids)
    return [{"terms": {"item_id": ordered[i : i + MAX_TERMS_PER_QUERY]}}
            for i in range(0, len(ordered), MAX_TERMS_PER_QUERY)]


def _in_sections(term: Term, anonymised: bool) -> dict[str, Any]:
    """The term in one section of the query's view: the redacted copy, or the rest."""
    view = {"prefix": {"sections.kind": REDACTED_KIND}}
    return {"bool": {
        "must": [_term_query(term)],
        **({"filter": [view]} if anonymised else {"must_not": [view]}),
    }}


class ElasticIndex:
    """The search-index seam on an Elasticsearch cluster (one index per prefix)."""

    name = "elasticsearch"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "commarchive",
        username: str | None = None,
        password: str | None = None,
        ca_certs: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.index_name = f"{prefix.lower()}-items"
        self._template_name = self.index_name
        options: dict[str, Any] = {}
        if username:
            options["basic_auth"] = (username, password or "")
        if ca_certs:
            options["ca_certs"] = ca_certs
        self._es = Elasticsearch(
            url, request_timeout=timeout_s, retry_on_timeout=True, max_retries=2, **options
        )

    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except helpers.BulkIndexError as exc:
            # Only id, status and error type: the client puts each failed document's
            # source (mail and transcript text) in the error entries.
            first: Any = next(iter((exc.errors[0] if exc.errors else {}).values()), {})
            error = first.get("error") if isinstance(first, dict) else None
            kind = error.get("type") if isinstance(error, dict) else error
            detail = (f"{first.get('_id')} ({first.get('status')} {kind})"
                      if isinstance(first, dict) else "?")
            raise IndexUnavailable(
                reason=f"{what}: {len(exc.errors)} failed, e.g. {detail}"
            ) from exc
        except ApiError as exc:
            raise IndexUnavailable(reason=f"{what}: {exc.meta.status} {exc.message}") from exc
        except TransportError as exc:
            raise IndexUnavailable(reason=f"{what}: {exc.message}") from exc

    # -- lifecycle ---------------------------------------------------------

    def ensure(self) -> None:
        """Put the index template, then create the index or add new fields to it."""
        es = self._es
        self._call(
            "put template",
            lambda: es.indices.put_index_template(
                name=self._template_name,
                index_patterns=[self.index_name],
                priority=_TEMPLATE_PRIORITY,
                template={"settings": SETTINGS, "mappings": MAPPINGS},
            ),
        )
        if self._call("exists", lambda: es.indices.exists(index=self.index_name)):
            self._call(
                "put mapping",
                lambda: es.indices.put_mapping(index=self.index_name, properties=PROPERTIES),
            )
            return
        try:
            es.indices.create(index=self.index_name, wait_for_active_shards="1")
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":
                raise IndexUnavailable(reason=f"create index: {exc.message}") from exc
        except TransportError as exc:
            raise IndexUnavailable(reason=f"create index: {exc.message}") from exc

    def drop(self) -> None:
        """Delete the index and its template (test teardown, decommissioning)."""
        es = self._es
        self._call(
            "drop index",
            lambda: es.indices.delete(index=self.index_name, ignore_unavailable=True),
        )
        try:
            es.indices.delete_index_template(name=self._template_name)
        except NotFoundError:
            pass
        except (ApiError, TransportError) as exc:
            raise IndexUnavailable(reason=f"drop template: {exc}") from exc

    def close(self) -> None:
        self._es.close()

    # -- writes ------------------------------------------------------------

    def upsert(self, docs: Sequence[IndexDoc]) -> None:
        if not docs:
            return

        def actions() -> Iterator[dict[str, Any]]:
            for doc in docs:
                yield {
                    "_op_type": "index",
                    "_index": self.index_name,
                    "_id": doc.item_id,
                    "_source": _source(doc),
                }

        self._call(
            "bulk",
            lambda: helpers.bulk(
                self._es, actions(), chunk_size=BULK_CHUNK_DOCS, refresh=True, max_retries=2
            ),
        )

    def delete(self, item_id: str) -> None:
        """Remove the item, then merge its deleted text out of the segments."""
        es = self._es
        try:
            es.delete(index=self.index_name, id=item_id, refresh=True)
        except NotFoundError:
            return
        except (ApiError, TransportError) as exc:
            raise IndexUnavailable(reason=f"delete: {exc}") from exc
        self.expunge_deleted()

    def expunge_deleted(self) -> int:
        """Merge deleted documents out of the segments; return how many still linger.

        Elasticsearch keeps soft-deleted documents while a shard's peer-recovery
        retention lease still covers them (it advances about every 30 s), so
        right after a delete this may return non-zero; a later call (or one of
        ES's own merges) removes them.
        """
        es = self._es
        self._call(
            "expunge deletes",
            lambda: es.indices.forcemerge(index=self.index_name, only_expunge_deletes=True),
        )
        stats = self._call("stats", lambda: es.indices.stats(index=self.index_name, metric="docs"))
        return int(stats["indices"][self.index_name]["primaries"]["docs"]["deleted"])

    def clear(self) -> None:
        """Drop and recreate the index: faster than deleting documents, and leaves no text."""
        es = self._es
        self._call(
            "clear",
            lambda: es.indices.delete(index=self.index_name, ignore_unavailable=True),
        )
        self.ensure()

    # -- reads -------------------------------------------------------------

    def count(self) -> int:
        es = self._es
        resp = self._call("count", lambda: es.count(index=self.index_name))
        return int(resp["count"])

    def health(self) -> dict[str, object]:
        es = self._es
        if not self._call("exists", lambda: es.indices.exists(index=self.index_name)):
            raise IndexUnavailable(reason=f"index {self.index_name} does not exist")
        resp = self._call("health", lambda: es.cluster.health(index=self.index_name))
        status = str(resp["status"])
        if status == "red":
            raise IndexUnavailable(reason=f"index {self.index_name} is red")
        return {
            "backend": self.name,
            "index": self.index_name,
            "status": status,
            "documents": self.count(),
        }

    def search(self, query: SearchQuery) -> SearchResult:
        if matches_nothing(query):
            return SearchResult(0, ())
        phrases = parse_terms(query.text)
        if query.text.strip() and not phrases:
            return SearchResult(0, ())
        filters = self._filters(query)
        for phrase in phrases:
            filters.append({"nested": {"path": "sections",
                                       "query": _in_sections(phrase, query.anonymised)}})
        bool_query: dict[str, Any] = {"filter": filters}
        if phrases:
            # Scores the item by its best section and returns that section.
            bool_query["should"] = [
                {
                    "nested": {
                        "path": "sections",
                        "score_mode": "max",
                        "query": {
                            "bool": {
                                "should": [_in_sections(p, query.anonymised)
                                           for p in phrases],
                                "minimum_should_match": 1,
                            }
                        },
                        "inner_hits": {
                            "size": 1,
                            "sort": [{"_score": "desc"}, {"sections.pos": "asc"}],
                            "track_scores": True,
                            "_source": {
                                "includes": [
                                    "sections.text",
                                    "sections.speaker",
                                    "sections.start_s",
                                ]
                            },
                        },
                    }
                }
            ]
        es = self._es
        resp = self._call(
            "search",
            lambda: es.search(
                index=self.index_name,
                query={"bool": bool_query},
                sort=[{"_score": "desc"}, {"started_at": "desc"}, {"item_id": "asc"}],
                track_scores=True,
                track_total_hits=EXACT_TOTAL_LIMIT,
                from_=query.offset,
                size=query.limit,
                source_includes=["title", "language"],
            ),
        )
        hits: list[Hit] = []
        for raw in resp["hits"]["hits"]:
            title = str(raw["_source"].get("title", ""))
            inner = raw.get("inner_hits", {}).get("sections", {}).get("hits", {}).get("hits", [])
            if not phrases or not inner:
                hits.append(Hit(raw["_id"], 0.0, render_snippet(title), title))
                continue
            section = inner[0]["_source"]
            start_s = section.get("start_s")
            hits.append(
                Hit(
                    raw["_id"],
                    float(raw.get("_score") or 0.0),
                    snippet(str(section.get("text", "")), phrases,
                            raw["_source"].get("language")),
                    title,
                    section.get("speaker"),
                    None if start_s is None else float(start_s),
                )
            )
        total = resp["hits"]["total"]
        # Counted exactly up to the limit, then "gte": the same shape as the embedded index.
        lower_bound = total.get("relation") == "gte"
        return SearchResult(EXACT_TOTAL_LIMIT if lower_bound else int(total["value"]),
                            tuple(hits), lower_bound)

    def _filters(self, query: SearchQuery) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        if query.purposes is not None:
            filters.append({"terms": {"purposes": sorted(query.purposes)}})
        if not query.include_restricted:
            filters.append({"term": {"restricted": False}})
        if query.channel:
            filters.append({"term": {"channel": str(query.channel)}})
        if query.direction:
            filters.append({"term": {"direction": str(query.direction)}})
        if query.subject:
            filters.append({"term": {"subjects": query.subject}})
        if query.mention:
            filters.append({"term": {"mentions": query.mention}})
        if query.since or query.until:
            bounds: dict[str, str] = {}
            if query.since:
                bounds["gte"] = iso_utc(query.since)
            if query.until:
                bounds["lt"] = iso_utc(query.until)
            filters.append({"range": {"started_at": bounds}})
        party = parse_query(f'"{query.party}"') if query.party else []
        if party:
            filters.append({"match_phrase": {"parties_tokens": _phrase_text(party[0])}})
        any_party = [p[0] for p in (parse_query(f'"{a}"') for a in query.any_party) if p]
        if any_party:
            filters.append({"bool": {"should": [
                {"match_phrase": {"parties_tokens": _phrase_text(p)}} for p in any_party],
                "minimum_should_match": 1}})
        if query.item_ids is not None:
            filters.append({"bool": {"should": _id_queries(query.item_ids),
                                     "minimum_should_match": 1}})
        if query.exclude_ids:
            filters.append({"bool": {"must_not": _id_queries(query.exclude_ids)}})
        return filters
