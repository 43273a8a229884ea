"""Anchor records in memory: tamper evidence within one process only."""

from __future__ import annotations

from archive.anchors import record_seq


class MemoryAnchor:
    def __init__(self) -> None:
        self.records: list[bytes] = []

    def describe(self) -> str:
        return "the in-memory audit anchor"

    def append(self, seq: int, record: bytes) -> None:
        self.records.append(record)

    def latest(self) -> bytes | None:
        if not self.records:
            return None
        return max(reversed(self.records), key=lambda r: record_seq(r) or -1)

    def close(self) -> None:
        return None
