"""The catalog on SQLite vs PostgreSQL: group-commit ingest rate and subject lookups.

    python bench/bench_catalog.py [--items 2000] [--group 32] [--lookups 50]
                                  [--pg-url postgresql+psycopg://...]

Both archives use an in-memory object store and index, so what differs is the
catalog: the rows, wrapped keys and audit events of each group commit (one
transaction per group, as SMTP ingest does), then subject lookups (the first
step of every access or erasure request). SQLite runs as the embedded default
(WAL, ``synchronous=FULL``); PostgreSQL is a local server with its durable
defaults (fsync on), started here with ``initdb`` unless ``--pg-url`` names one.
Both run in the same process, one after the other, on the same items.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import keys  # noqa: E402
from archive import rights  # noqa: E402
from archive.catalog import Catalog, sqlite_url  # noqa: E402
from archive.config import ArchiveConfig  # noqa: E402
from archive.index.memory import MemoryIndex  # noqa: E402
from archive.model import (  # noqa: E402
    AddressKind,
    Channel,
    Direction,
    NewItem,
    Party,
    PartyRole,
    Section,
    Side,
)
from archive.service import Archive  # noqa: E402
from archive.store.memory import MemoryStore  # noqa: E402

CUSTOMERS: Final = 200


def _email(n: int, started: datetime) -> NewItem:
    customer = f"customer{n % CUSTOMERS}@example.nl"
    mid = f"<{uuid.uuid4().hex}@example.nl>"
    body = f"Hello, this is message {n}. My fibre line drops every evening. " * 8
    raw = (f"From: <{customer}>\r\nTo: support@example.com\r\nSubject: Ticket {n}\r\n"
           f"Message-ID: {mid}\r\n\r\n{body}\r\n").encode()
    return NewItem(
        channel=Channel.EMAIL, original=raw, content_type="message/rfc822", source="bench",
        started_at=started, direction=Direction.INBOUND,
        parties=[Party(PartyRole.FROM, customer, AddressKind.EMAIL, None, Side.CUSTOMER),
                 Party(PartyRole.TO, "support@example.com", AddressKind.EMAIL, None,
                       Side.AGENT)],
        details={"subject": f"Ticket {n}", "message_id": mid},
        sections=[Section("subject", f"Ticket {n}"), Section("body", body)],
        dedupe_key=f"msgid:{mid}",
    )


def _archive(url: str, work: Path) -> Archive:
    config = ArchiveConfig()
    ring = keys.Keyring.create(work / "keyring.sealed", keys.new_dek())
    for purpose in config.purposes:
        ring.ensure_purpose(purpose.name)
    catalog = Catalog(url)
    catalog.create_schema()
    return Archive(data_dir=work, config=config, catalog=catalog, store=MemoryStore(),
                   index=MemoryIndex(), keyring=ring)


def _run(name: str, url: str, items: list[NewItem], group: int, lookups: int,
         work: Path) -> dict[str, float]:
    arc = _archive(url, work)
    try:
        commit_s: list[float] = []
        started = time.perf_counter()
        for start in range(0, len(items), group):
            prepared = [arc.prepare(item) for item in items[start : start + group]]
            t0 = time.perf_counter()
            done = arc.commit_group(prepared, actor="bench")
            commit_s.append(time.perf_counter() - t0)
            arc.finish_group(done)
        total_s = time.perf_counter() - started
        lookup_ms: list[float] = []
        for n in range(lookups):
            t0 = time.perf_counter()
            rights.subject_overview(arc, [f"customer{n % CUSTOMERS}@example.nl"],
                                    actor="bench", role="privacy")
            lookup_ms.append((time.perf_counter() - t0) * 1000)
        lookup_ms.sort()
        return {
            "items_per_s": len(items) / total_s,
            "commit_ms_per_group": statistics.median(commit_s) * 1000,
            "lookup_p50_ms": statistics.median(lookup_ms),
            "lookup_p95_ms": lookup_ms[int(0.95 * (len(lookup_ms) - 1))],
        }
    finally:
        arc.close()
        print(f"{name}: done", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--group", type=int, default=32)
    parser.add_argument("--lookups", type=int, default=50)
    parser.add_argument("--pg-url")
    args = parser.parse_args()
    now = datetime.now(UTC)
    items = [_email(n, now - timedelta(minutes=n)) for n in range(args.items)]
    running = None
    pg_url = args.pg_url
    if pg_url is None:
        from tests.services import postgres_database_on, start_postgres

        running = start_postgres(durable=True)
        pg_url = postgres_database_on(running.url)
    results: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, url in (("SQLite", sqlite_url(Path(tmp) / "SQLite" / "catalog.sqlite")),
                              ("PostgreSQL", pg_url)):
                work = Path(tmp) / name
                work.mkdir()
                results[name] = _run(name, url, items, args.group, args.lookups, work)
    finally:
        if running is not None:
            running.stop()
    print(f"\n{args.items} e-mails in groups of {args.group}; {args.lookups} subject lookups "
          f"over {CUSTOMERS} customers\n")
    print("| catalog | items/s (prepare+commit+finish) | commit ms/group (median) "
          "| lookup p50 ms | lookup p95 ms |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['items_per_s']:.0f} | {r['commit_ms_per_group']:.1f} "
              f"| {r['lookup_p50_ms']:.1f} | {r['lookup_p95_ms']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
