"""Measure ``bench_search``'s query kinds on an index file that is already built.

    python bench/search_existing.py SOURCE_TREE INDEX_FILE QUERIES WARMUP

``SOURCE_TREE`` is the checkout whose ``SqliteIndex`` and ``bench_search`` are
used, so an index built by an older version is measured with that version's
code (and never upgraded by opening it with this one): build the before and
after indexes once (``bench_search.py --sqlite-path``), then measure both back
to back. Subjects for look-ups are read from the index itself.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    tree, path, queries, warmup = sys.argv[1], Path(sys.argv[2]), *map(int, sys.argv[3:5])
    sys.path.insert(0, tree)
    import bench.bench_search as bench
    from archive.index.sqlite import SqliteIndex

    bench.WARMUP_QUERIES = warmup  # type: ignore[misc]
    index = SqliteIndex(path)
    print(f"{index.count()} items in {path.name}, code from {tree}", flush=True)
    subjects = [str(r[0]) for r in index._db.execute(  # both layouts have this column
        "SELECT identifier FROM doc_subjects ORDER BY identifier LIMIT 10000")]
    print("| query | p50 ms | p95 ms | mean total hits |")
    print("|---|---|---|---|")
    for kind, result in bench.measure(index, queries, 7, subjects).items():
        print(f"| {kind} | {result[0]:.1f} | {result[1]:.1f} | {result[2]:.0f} |", flush=True)
    index.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
