"""The erasure ledger: every crypto-shred and purge, kept outside the data directory
and outside the catalog.

A backup (or a ``pg_dump``) taken before an erasure still holds the erased
items' wrapped keys. So every shred (some purposes of an item) and purge (whole
items) is also appended here, where no backup of the catalog reaches; a
restore replays every entry against the restored catalog before the archive
serves, and a restored archive never holds keys for a person erased in the
meantime.

Entries hold item ids, purposes, the purge reason and reference (what a
tombstone holds: no personal data), chained and MAC'd with the audit key
(``chain``); every audit anchor record names the ledger's head
(``archive.audit``), so entries cut off the end show against the anchor. The
entry is appended inside the erasure's write transaction, before its commit: a
crash in between leaves an entry for an erasure that did not happen, which
replaying merely completes, never the reverse. The catalog keeps a bookmark
(``tables``): the newest entry it applied, moved in that same transaction.

Where it is kept, one module each:

- ``file``: an append-only file beside the key provider (one machine);
- ``s3``: one object per entry in the audit anchor's S3 Object Lock bucket, in
  compliance mode (stateless nodes: nothing on a node's disk);
- ``memory``: for tests and embedders within one process.

Errors: ``LedgerError`` (an ``archive.errors.ArchiveError``): unreadable or
tampered with, or, for S3, unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Connection

from archive.ledger.chain import LedgerEntry, LedgerError
from archive.ledger.memory import MemoryLedger

__all__ = ["ErasureLedger", "LedgerEntry", "LedgerError", "MemoryLedger"]


class ErasureLedger(Protocol):
    def describe(self) -> str:
        """Where the ledger lives, for messages."""
        ...

    def record(self, action: str, item_ids: Sequence[str], *,
               purposes: Sequence[str] | None = None, reason: str | None = None,
               reference: str | None = None, at: datetime | None = None,
               conn: Connection | None = None) -> tuple[int, str]:
        """Durably append one erasure (inside ``conn``'s transaction, which also moves
        the catalog's bookmark); its (number, MAC)."""
        ...

    def head(self, *, fresh: bool = False) -> tuple[int, str] | None:
        """The newest entry's (number, MAC), cheap enough for every audited write;
        ``fresh``: read where the ledger is kept. None when empty."""
        ...

    def holds(self, number: int, mac: str) -> str | None:
        """None when entry ``number`` has ``mac`` and every entry verifies; else the
        problem, naming the entry."""
        ...

    def entries(self, *, since: datetime | None = None,
                after: int = 0) -> Iterator[LedgerEntry]:
        """Verified entries in order; a bad one is a LedgerError naming it."""
        ...
