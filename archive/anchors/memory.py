"""Anchor records in memory: tamper evidence within one process only."""

from __future__ import annotations


class MemoryAnchor:
    def __init__(self) -> None:
        self.records: list[bytes] = []

    def describe(self) -> str:
        return "the in-memory audit anchor"

    def append(self, seq: int, record: bytes) -> None:
        self.records.append(record)

    def latest(self) -> bytes | None:
        return self.records[-1] if self.records else None

    def close(self) -> None:
        return None
