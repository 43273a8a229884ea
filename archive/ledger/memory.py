"""The erasure ledger in memory: for tests and embedders within one process."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from archive.ledger.chain import ChainedLedger, LedgerEntry


class MemoryLedger(ChainedLedger):
    """The same chained lines as the file, in a list; gone with the process."""

    def __init__(self, key: bytes) -> None:
        super().__init__(key)
        self._lines: list[bytes] = []
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "the in-memory erasure ledger"

    def _append(self, entry: LedgerEntry) -> tuple[int, str]:
        with self._lock:
            line, number, mac = self.line(entry, self.head_of(self._lines))
            self._lines.append(line)
        return number, mac

    def head(self, *, fresh: bool = False) -> tuple[int, str] | None:
        return self.head_of(self._lines)

    def _stored(self) -> Iterable[bytes]:
        return list(self._lines)
