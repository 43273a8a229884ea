"""Search benchmark: bulk indexing rate and search latency at N items, SQLite FTS5 vs Elasticsearch.

    python bench/bench_search.py [--items 100000] [--queries 200] [--es-url URL]
                                 [--only sqlite|elasticsearch] [--sqlite-path FILE]

Items are synthetic (seeded): calls with six transcript utterances, e-mails
with a subject and a body, in Dutch, French or English by turns (stemmed so),
words drawn from a Zipf-like vocabulary, three parties, one to three purposes,
5% restricted, start times over two years.
Latency is measured end to end through the ``SearchIndex`` object (query,
transport, snippet), one query at a time, after a warm-up; each query draws
fresh words so no result is served from a cache of the previous one.

Without ``--es-url``, Elasticsearch is started as the tests start it
(tests/services.py: the Maven integ-test-zip, 512 MiB heap, one node).
``--sqlite-path`` keeps the SQLite index in that file and, when it already holds
the corpus, measures it without building it again (1M items take a while).
Totals are exact up to 10,000 items; "lower bound" counts the queries that
matched more (their total is reported as 10,000).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from archive.index import IndexDoc, SearchIndex, SearchQuery  # noqa: E402
from archive.model import Section  # noqa: E402

BATCH_DOCS: Final = 1000
WARMUP_QUERIES: Final = 20
VOCABULARY_WORDS: Final = 20_000
PURPOSES: Final = ("quality", "training", "legal")
LANGUAGES: Final = ("nl", "fr", "en")
EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_S: Final = 2 * 365 * 86400


def _vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(VOCABULARY_WORDS)}
    return sorted(words)


class Corpus:
    def __init__(self, seed: int) -> None:
        # One vocabulary for documents and queries; the seed varies only the draws.
        self.words = _vocabulary(random.Random(0))
        self.rng = random.Random(seed)
        # Zipf-like weights: word k drawn with probability ~ 1/(k+10)
        self.weights = [1.0 / (k + 10) for k in range(len(self.words))]
        self.cum = list(_accumulate(self.weights))

    def sentence(self, n: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cum, k=n))

    def word_in_band(self, lo: int, hi: int) -> str:
        return self.words[self.rng.randrange(lo, min(hi, len(self.words)))]

    def doc(self, n: int) -> IndexDoc:
        rng = self.rng
        call = rng.random() < 0.5
        started = EPOCH + timedelta(seconds=rng.randrange(SPAN_S))
        customer = f"+3161{rng.randrange(10**7):07d}"
        parties = (customer, f"cust{n}@customer.test", f"Agent {rng.randrange(50)}")
        if call:
            sections = tuple(
                Section("transcript", self.sentence(rng.randint(6, 18)),
                        speaker="agent" if i % 2 else "customer", start_s=i * 7.5)
                for i in range(6)
            )
            title = f"Call {customer}"
        else:
            subject = self.sentence(5)
            sections = (Section("subject", subject), Section("body", self.sentence(60)))
            title = subject
        purposes = tuple(sorted(rng.sample(PURPOSES, rng.randint(1, 3))))
        return IndexDoc(
            item_id=f"{n:012d}", channel="call" if call else "email",
            direction="inbound", started_at=started, parties=parties,
            subjects=(customer,), purposes=purposes, restricted=rng.random() < 0.05,
            held=False, sections=sections, title=title,
            # Stemmed as the languages of a Benelux archive (archive.index.analysis).
            language=LANGUAGES[n % len(LANGUAGES)],
        )


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def _sqlite_fresh_load(index: SearchIndex) -> Callable[[list[IndexDoc]], None] | None:
    """For SqliteIndex: insert new items without the per-item delete of ``upsert``.

    ``SqliteIndex.upsert`` first deletes the item's FTS rows by an UNINDEXED
    column, a scan of the whole FTS table per item, so loading N items costs
    O(N^2); at 100k items that takes hours. The bench measures that rate, then
    fills the rest with this path so search latency can be measured at N.
    """
    insert = getattr(index, "_insert", None)
    db = getattr(index, "_db", None)
    if insert is None or db is None:
        return None

    def load(batch: list[IndexDoc]) -> None:
        db.execute("BEGIN IMMEDIATE")
        for doc in batch:
            insert(doc)
        db.execute("COMMIT")

    return load


def index_corpus(
    index: SearchIndex, items: int, seed: int, subjects: list[str], rate_items: int,
    time_ordered: bool = False,
) -> tuple[float, float | None]:
    """Index ``items`` docs in batches; return (upsert items/s, upsert items/s at the end).

    The first ``rate_items`` go through ``upsert``; the rest too, unless the
    index has a fresh-load path (see ``_sqlite_fresh_load``), in which case a
    last batch of 100 new items through ``upsert`` gives the rate at full size.
    Every 100th item's subject is appended to ``subjects``, for subject look-ups.
    ``time_ordered`` indexes the same items in order of start time, as ingest does.
    """
    corpus = Corpus(seed)
    fresh = _sqlite_fresh_load(index) if rate_items < items else None
    t_index = 0.0
    upserted = 0
    ordered: list[IndexDoc] = []
    if time_ordered:
        ordered = sorted((corpus.doc(n) for n in range(items)), key=lambda d: d.started_at)
        subjects.extend(d.subjects[0] for n, d in enumerate(
            sorted(ordered, key=lambda d: d.item_id)) if n % 100 == 0)
    for start in range(0, items, BATCH_DOCS):
        if time_ordered:
            batch = ordered[start : start + BATCH_DOCS]
        else:
            batch = [corpus.doc(n) for n in range(start, min(items, start + BATCH_DOCS))]
            subjects.extend(d.subjects[0] for d in batch[::100])
        if fresh is not None and start >= rate_items:
            fresh(batch)
            continue
        t0 = time.perf_counter()
        index.upsert(batch)
        t_index += time.perf_counter() - t0
        upserted += len(batch)
        if upserted % (20 * BATCH_DOCS) == 0:
            print(f"  {upserted} items, {upserted / t_index:.0f} items/s", file=sys.stderr)
    at_end = None
    if fresh is not None:
        tail = [corpus.doc(n) for n in range(items, items + 100)]
        t0 = time.perf_counter()
        index.upsert(tail)
        at_end = len(tail) / (time.perf_counter() - t0)
    return upserted / t_index, at_end


def query_kinds(corpus: Corpus, subjects: list[str]) -> dict[str, Callable[[], SearchQuery]]:
    def word(lo: int, hi: int) -> str:
        return corpus.word_in_band(lo, hi)

    return {
        "common word": lambda: SearchQuery(word(0, 50)),
        "mid word": lambda: SearchQuery(word(200, 2000)),
        "rare word": lambda: SearchQuery(word(5000, VOCABULARY_WORDS)),
        "two words AND": lambda: SearchQuery(f"{word(0, 300)} {word(0, 300)}"),
        "phrase (two common words)": lambda: SearchQuery(f'"{word(0, 30)} {word(0, 30)}"'),
        "word + purpose + 90 days": lambda: SearchQuery(
            word(50, 500), purposes=frozenset({"quality"}),
            since=EPOCH + timedelta(days=corpus.rng.randrange(600)),
            until=EPOCH + timedelta(days=corpus.rng.randrange(600) + 90)),
        "subject (no text)": lambda: SearchQuery(
            subject=corpus.rng.choice(subjects), include_restricted=True),
        "listing page 3 (no text)": lambda: SearchQuery(purposes=frozenset({"legal"}), offset=40),
    }


def measure(
    index: SearchIndex, queries: int, seed: int, subjects: list[str]
) -> dict[str, tuple[float, float, float, float]]:
    corpus = Corpus(seed + 1)
    results: dict[str, tuple[float, float, float, float]] = {}
    for name, make in query_kinds(corpus, subjects).items():
        for _ in range(WARMUP_QUERIES):
            index.search(make())
        times: list[float] = []
        totals: list[int] = []
        bounds = 0
        for _ in range(queries):
            q = make()
            t0 = time.perf_counter()
            res = index.search(q)
            times.append((time.perf_counter() - t0) * 1000)
            totals.append(res.total)
            bounds += bool(getattr(res, "total_is_lower_bound", False))
        times.sort()
        p50 = statistics.median(times)
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        results[name] = (p50, p95, statistics.mean(totals), 100 * bounds / queries)
    return results


def _subjects(items: int, seed: int) -> list[str]:
    """The subjects ``index_corpus`` would collect, without indexing anything."""
    corpus = Corpus(seed)
    return [corpus.doc(n).subjects[0] for n in range(items) if n % 100 == 0]


def run(name: str, index: SearchIndex, items: int, queries: int, seed: int,
        rate_items: int, time_ordered: bool = False) -> None:
    index.ensure()
    subjects: list[str] = []
    built = index.count()
    if built in (items, items + 100):
        print(f"[{name}] reusing the {built} items already indexed", file=sys.stderr)
        subjects = _subjects(items, seed)
        rate, at_end = None, None
    else:
        print(f"[{name}] indexing {items} items ...", file=sys.stderr)
        t_build = time.perf_counter()
        rate, at_end = index_corpus(index, items, seed, subjects, rate_items, time_ordered)
        assert index.count() == items + (0 if at_end is None else 100), index.count()
        print(f"[{name}] built in {time.perf_counter() - t_build:.0f} s")
    if rate is None:
        pass
    elif at_end is None:
        print(f"[{name}] bulk indexing: {rate:.0f} items/s over {items} items")
    else:
        print(f"[{name}] bulk indexing: {rate:.0f} items/s over the first {rate_items} items, "
              f"{at_end:.1f} items/s at {items} items (the rest loaded by a fresh-insert path)")
    print(f"| {name} | query | p50 ms | p95 ms | mean total hits | lower bound |")
    print("|---|---|---|---|---|---|")
    for kind, (p50, p95, hits, bound) in measure(index, queries, seed, subjects).items():
        print(f"| {name} | {kind} | {p50:.1f} | {p95:.1f} | {hits:.0f} | {bound:.0f}% |")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--es-url", help="use this Elasticsearch instead of starting one")
    parser.add_argument("--only", choices=["sqlite", "elasticsearch"])
    parser.add_argument("--sqlite-upsert-items", type=int, default=5000,
                        help="items SQLite indexes through upsert before the fresh-insert path")
    parser.add_argument("--sqlite-path", type=Path,
                        help="keep the SQLite index in this file; reuse it if it is built")
    parser.add_argument("--time-ordered", action="store_true",
                        help="index the items in order of start time (as ingest does)")
    args = parser.parse_args()

    if args.only != "elasticsearch":
        from archive.index.sqlite import SqliteIndex

        with tempfile.TemporaryDirectory() as tmp:
            sqlite = SqliteIndex(args.sqlite_path or Path(tmp) / "index.sqlite")
            try:
                run("sqlite", sqlite, args.items, args.queries, args.seed,
                    args.sqlite_upsert_items, args.time_ordered)
            finally:
                sqlite.close()

    if args.only != "sqlite":
        from archive.index.elastic import ElasticIndex

        started = None
        url = args.es_url
        if not url:
            from tests.services import start_elasticsearch

            t0 = time.perf_counter()
            started = start_elasticsearch()
            url = started.url
            print(f"Elasticsearch started in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        es = ElasticIndex(url, prefix=f"bench-{uuid.uuid4().hex[:8]}", timeout_s=120)
        try:
            run("elasticsearch", es, args.items, args.queries, args.seed, args.items)
        finally:
            es.drop()
            es.close()
            if started is not None:
                started.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
