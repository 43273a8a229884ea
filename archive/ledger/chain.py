"""The ledger's entries and their chain, the same wherever the ledger is kept.

An entry is one JSON line: the entry's fields with its number (``n``) and the
MAC of the entry before it (``prev``), MAC'd with the audit key. A forged or
edited entry fails its MAC, a removed or reordered one breaks the chain, and
entries cut off the end show against the audit anchor, which names the head.
``ChainedLedger`` holds what every implementation shares: writing an entry
after a given head, reading and verifying the chain, and noting the head in the
catalog's bookmark (``archive.ledger.tables``) inside the erasure's own
transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.engine import Connection

from archive.errors import ArchiveError
from archive.ledger import tables

#: The number of an unchained line read without its position (only the head needs it).
UNNUMBERED: Final = -1


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


@dataclass(frozen=True, slots=True)
class Line:
    """One verified entry: its number, its MAC and the entry."""
    number: int
    mac: str
    entry: LedgerEntry


class ChainedLedger:
    """What the file, memory and S3 ledgers share; they store and find the lines."""

    #: What one stored entry is called in messages ("line" in a file, "entry" in S3).
    unit = "line"

    def __init__(self, key: bytes) -> None:
        self._key = key

    def describe(self) -> str:
        raise NotImplementedError

    def _stored(self) -> Iterable[bytes]:
        """Every stored line, oldest first (unverified)."""
        raise NotImplementedError

    def _append(self, entry: LedgerEntry) -> tuple[int, str]:
        """Store ``entry`` after the newest line, as one step; its (number, MAC)."""
        raise NotImplementedError

    def head(self, *, fresh: bool = False) -> tuple[int, str] | None:
        """The newest line's number and MAC (what the audit anchor records); None if
        empty. ``fresh``: read where the ledger is kept, never a cached or hinted head."""
        raise NotImplementedError

    def record(self, action: str, item_ids: Sequence[str], *,
               purposes: Sequence[str] | None = None, reason: str | None = None,
               reference: str | None = None, at: datetime | None = None,
               conn: Connection | None = None) -> tuple[int, str]:
        """Append one erasure; with ``conn`` (the erasure's write transaction) the
        catalog's bookmark moves to it in that transaction. Returns (number, MAC)."""
        entry = LedgerEntry(at or datetime.now(UTC), action, tuple(item_ids),
                            tuple(purposes) if purposes is not None else None, reason,
                            reference)
        head = self._append(entry)
        if conn is not None:
            tables.set_applied(conn, head)
        return head

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, b"ledger\n" + body.encode(), hashlib.sha256).hexdigest()

    def line(self, entry: LedgerEntry, head: tuple[int, str] | None) -> tuple[bytes, int, str]:
        """``entry`` as the line after ``head``: (bytes without newline, number, MAC)."""
        number, prev = head if head is not None else (0, "")
        body = json.dumps({**entry.public(), "n": number + 1, "prev": prev}, sort_keys=True)
        mac = self._mac(body)
        return json.dumps({"entry": body, "mac": mac}).encode(), number + 1, mac

    def head_of(self, lines: Sequence[bytes]) -> tuple[int, str] | None:
        """(number, MAC) of the last of ``lines`` (the newest stored lines, in order)."""
        for line in reversed(lines):
            if line.strip():
                parsed = self.parse(line, None)
                if parsed is None:
                    raise LedgerError(f"{self.describe()}: its last {self.unit} is damaged "
                                      "or forged")
                if parsed.number == UNNUMBERED:  # written before lines were chained
                    *_, last = self.lines()
                    return last.number, last.mac
                return parsed.number, parsed.mac
        return None

    def export(self) -> list[bytes]:
        """Every stored line as it is, once the whole chain verified (to move it)."""
        for _ in self.lines():
            pass
        return [line for line in self._stored() if line.strip()]

    def holds(self, number: int, mac: str) -> str | None:
        """None when line ``number`` exists with ``mac``; else what is wrong (for verify)."""
        last = 0
        try:
            for line in self.lines():
                last = line.number
                if line.number == number:
                    if hmac.compare_digest(line.mac, mac):
                        return None
                    return (f"{self.describe()} {self.unit} {number} is not the one the "
                            "audit anchor names (the ledger was rewritten)")
        except LedgerError as exc:
            return str(exc)
        return (f"{self.describe()} ends at {self.unit} {last} but the audit anchor names "
                f"{self.unit} {number}: erasures were cut off its end")

    def entries(self, *, since: datetime | None = None,
                after: int = 0) -> Iterator[LedgerEntry]:
        """Entries in order (those at or after ``since``, numbered above ``after``);
        a bad line is a LedgerError."""
        for line in self.lines():
            if line.number > after and (since is None or line.entry.at >= since):
                yield line.entry

    def lines(self) -> Iterator[Line]:
        """Every line, verified: its MAC, its number and its link to the line before.

        Lines written before lines were chained carry neither; they are accepted
        only before the first chained line.
        """
        prev: Line | None = None
        chained = False
        number = 0
        unit = self.unit
        for line in self._stored():
            if not line.strip():
                continue
            number += 1
            parsed = self.parse(line, number)
            if parsed is None:
                raise LedgerError(f"{self.describe()} {unit} {number} is damaged or forged")
            link = _link(line)
            if link is None:
                if chained:
                    raise LedgerError(f"{self.describe()} {unit} {number} is not chained")
            else:
                chained = True
                if parsed.number != number or link != (prev.mac if prev else ""):
                    raise LedgerError(f"{self.describe()} {unit} {number} does not follow "
                                      f"{unit} {number - 1} (lines were removed or reordered)")
            prev = parsed
            yield parsed

    def parse(self, line: bytes, number: int | None) -> Line | None:
        """A line whose MAC holds; ``number`` names a line without its own (unchained)."""
        try:
            payload = json.loads(line)
            body = str(payload["entry"])
            mac = str(payload["mac"])
            if not hmac.compare_digest(self._mac(body), mac):
                return None
            data = json.loads(body)
            entry = LedgerEntry(
                datetime.fromisoformat(data["at"]), str(data["action"]),
                tuple(data["item_ids"]),
                tuple(data["purposes"]) if data["purposes"] is not None else None,
                data["reason"], data["reference"])
            own = data.get("n")
            if own is not None:
                return Line(int(own), mac, entry)
            return Line(UNNUMBERED if number is None else number, mac, entry)
        except (ValueError, KeyError, TypeError):
            return None


def _link(line: bytes) -> str | None:
    """The ``prev`` a (MAC-checked) line names; None for an unchained one."""
    data = json.loads(json.loads(line)["entry"])
    prev = data.get("prev")
    return None if prev is None else str(prev)
