"""The erasure ledger: every crypto-shred and purge, kept outside the data directory.

A backup taken before an erasure still holds the erased items' wrapped keys. So
every shred (some purposes of an item) and purge (whole items) is also appended
here, kept with the key provider and never in a backup; ``restore`` replays
every entry against the restored catalog before the archive opens, and a
restored archive never holds keys for a person erased in the meantime.

Entries hold item ids, purposes, the purge reason and reference (what a
tombstone holds: no personal data), one JSON line each, MAC'd with the audit
key so a forged or edited line is refused rather than trusted. The entry is
appended inside the write transaction, before its commit: a crash in between
leaves an entry for an erasure that did not happen, which replaying merely
completes, never the reverse.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.errors import ArchiveError


class LedgerError(ArchiveError):
    """The erasure ledger is unreadable or was tampered with."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    at: datetime
    #: "purge" (whole items) or "shred" (the keys of some purposes).
    action: str
    item_ids: tuple[str, ...]
    purposes: tuple[str, ...] | None
    reason: str | None
    reference: str | None

    def public(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "action": self.action,
                "item_ids": list(self.item_ids),
                "purposes": list(self.purposes) if self.purposes is not None else None,
                "reason": self.reason, "reference": self.reference}


class ErasureLedger:
    """An append-only, fsync'd file of MAC'd entries (None path: kept in memory)."""

    def __init__(self, path: Path | None, key: bytes) -> None:
        self.path = path
        self._key = key
        self._memory: list[bytes] = []

    def describe(self) -> str:
        return f"the erasure ledger {self.path}" if self.path else "the in-memory erasure ledger"

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, b"ledger\n" + body.encode(), hashlib.sha256).hexdigest()

    def record(self, action: str, item_ids: Sequence[str], *,
               purposes: Sequence[str] | None = None, reason: str | None = None,
               reference: str | None = None, at: datetime | None = None) -> None:
        entry = LedgerEntry(at or datetime.now(UTC), action, tuple(item_ids),
                            tuple(purposes) if purposes is not None else None, reason,
                            reference)
        body = json.dumps(entry.public(), sort_keys=True)
        line = json.dumps({"entry": body, "mac": self._mac(body)}).encode() + b"\n"
        if self.path is None:
            self._memory.append(line)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def entries(self, *, since: datetime | None = None) -> Iterator[LedgerEntry]:
        """Entries in order (those at or after ``since``); a bad line is a LedgerError."""
        if self.path is None:
            lines = list(self._memory)
        else:
            try:
                lines = self.path.read_bytes().split(b"\n")[:-1]  # last: torn or empty
            except FileNotFoundError:
                return
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                payload = json.loads(line)
                body = str(payload["entry"])
                ok = hmac.compare_digest(self._mac(body), str(payload["mac"]))
                data = json.loads(body)
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                raise LedgerError(f"{self.describe()} line {number} is damaged or forged")
            entry = LedgerEntry(
                datetime.fromisoformat(data["at"]), str(data["action"]),
                tuple(data["item_ids"]),
                tuple(data["purposes"]) if data["purposes"] is not None else None,
                data["reason"], data["reference"])
            if since is None or entry.at >= since:
                yield entry
