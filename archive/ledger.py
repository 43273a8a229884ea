"""The erasure ledger: every crypto-shred and purge, kept outside the data directory.

A backup taken before an erasure still holds the erased items' wrapped keys. So
every shred (some purposes of an item) and purge (whole items) is also appended
here, kept with the key provider and never in a backup; ``restore`` replays
every entry against the restored catalog before the archive opens, and a
restored archive never holds keys for a person erased in the meantime.

Entries hold item ids, purposes, the purge reason and reference (what a
tombstone holds: no personal data), one JSON line each, MAC'd with the audit
key so a forged or edited line is refused rather than trusted. Each line also
carries its number and the MAC of the line before it, so removing or
reordering lines is refused too; and every audit anchor record names the
ledger's head (``archive.audit``), so lines cut off the end show against the
anchor. Appends take an exclusive lock on the file: a command-line erasure and
a serving process can both write. The entry is appended inside the write
transaction, before its commit: a crash in between leaves an entry for an
erasure that did not happen, which replaying merely completes, never the
reverse.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

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


#: The number of an unchained line read without its position (only the head needs it).
_UNNUMBERED: Final = -1
#: How much of the file's end is read first to find its last line (doubled until found).
_TAIL_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Line:
    """One verified line: its number, its MAC and the entry."""
    number: int
    mac: str
    entry: LedgerEntry


class ErasureLedger:
    """An append-only, fsync'd file of chained, MAC'd entries (None path: in memory)."""

    def __init__(self, path: Path | None, key: bytes) -> None:
        self.path = path
        self._key = key
        self._memory: list[bytes] = []
        #: (inode, size, mtime) of the file when its head was last read, and that head.
        self._head_cache: tuple[tuple[int, int, int], tuple[int, str] | None] | None = None

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
        if self.path is None:
            self._memory.append(self._line(entry, self._head_of(self._memory)))
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # the head read and the append are one step
            _drop_torn_line(fd)
            os.write(fd, self._line(entry, self._head_of(_tail_lines(fd))))
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock

    def _line(self, entry: LedgerEntry, head: tuple[int, str] | None) -> bytes:
        number, prev = head if head is not None else (0, "")
        body = json.dumps({**entry.public(), "n": number + 1, "prev": prev}, sort_keys=True)
        return json.dumps({"entry": body, "mac": self._mac(body)}).encode() + b"\n"

    def _head_of(self, lines: Sequence[bytes]) -> tuple[int, str] | None:
        """(number, MAC) of the last of ``lines`` (the file's last lines, in order)."""
        for line in reversed(lines):
            if line.strip():
                parsed = self._parse(line, None)
                if parsed is None:
                    raise LedgerError(f"{self.describe()}: its last line is damaged or forged")
                if parsed.number == _UNNUMBERED:  # written before lines were chained
                    *_, last = self._lines()
                    return last.number, last.mac
                return parsed.number, parsed.mac
        return None

    def head(self) -> tuple[int, str] | None:
        """The newest line's number and MAC (what the audit anchor records); None if empty.

        Asked on every audited write (each anchor record names it), while the file
        changes only with erasures: read again only when its size, time or inode did.
        """
        if self.path is None:
            return self._head_of(self._memory)
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            st = os.fstat(fd)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if self._head_cache is None or self._head_cache[0] != stamp:
                self._head_cache = (stamp, self._head_of(_tail_lines(fd)))
            return self._head_cache[1]
        finally:
            os.close(fd)

    def holds(self, number: int, mac: str) -> str | None:
        """None when line ``number`` exists with ``mac``; else what is wrong (for verify)."""
        last = 0
        try:
            for line in self._lines():
                last = line.number
                if line.number == number:
                    if hmac.compare_digest(line.mac, mac):
                        return None
                    return (f"{self.describe()} line {number} is not the one the audit "
                            "anchor names (the ledger was rewritten)")
        except LedgerError as exc:
            return str(exc)
        return (f"{self.describe()} ends at line {last} but the audit anchor names line "
                f"{number}: erasures were cut off its end")

    def entries(self, *, since: datetime | None = None) -> Iterator[LedgerEntry]:
        """Entries in order (those at or after ``since``); a bad line is a LedgerError."""
        for line in self._lines():
            if since is None or line.entry.at >= since:
                yield line.entry

    def _lines(self) -> Iterator[_Line]:
        """Every line, verified: its MAC, its number and its link to the line before.

        Lines written before lines were chained carry neither; they are accepted
        only before the first chained line.
        """
        if self.path is None:
            lines = list(self._memory)
        else:
            try:
                lines = self.path.read_bytes().split(b"\n")[:-1]  # last: torn or empty
            except FileNotFoundError:
                return
        prev: _Line | None = None
        chained = False
        number = 0
        for line in lines:
            if not line.strip():
                continue
            number += 1
            parsed = self._parse(line, number)
            if parsed is None:
                raise LedgerError(f"{self.describe()} line {number} is damaged or forged")
            link = _link(line)
            if link is None:
                if chained:
                    raise LedgerError(f"{self.describe()} line {number} is not chained")
            else:
                chained = True
                if parsed.number != number or link != (prev.mac if prev else ""):
                    raise LedgerError(f"{self.describe()} line {number} does not follow line "
                                      f"{number - 1} (lines were removed or reordered)")
            prev = parsed
            yield parsed

    def _parse(self, line: bytes, number: int | None) -> _Line | None:
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
                return _Line(int(own), mac, entry)
            return _Line(_UNNUMBERED if number is None else number, mac, entry)
        except (ValueError, KeyError, TypeError):
            return None


def _link(line: bytes) -> str | None:
    """The ``prev`` a (MAC-checked) line names; None for an unchained one."""
    data = json.loads(json.loads(line)["entry"])
    prev = data.get("prev")
    return None if prev is None else str(prev)


def _drop_torn_line(fd: int) -> None:
    """Cut a line a power loss tore (no newline yet) before appending after it.

    Its transaction never committed: the line is fsync'd before the commit.
    """
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    keep = size
    while keep > 0:
        start = max(0, keep - _TAIL_BYTES)
        cut = os.pread(fd, keep - start, start).rfind(b"\n")
        if cut >= 0:
            keep = start + cut + 1
            break
        keep = start
    os.ftruncate(fd, keep)


def _tail_lines(fd: int) -> list[bytes]:
    """The complete lines at the end of the open file (at least its last one)."""
    size = os.fstat(fd).st_size
    want = _TAIL_BYTES
    while True:
        start = max(0, size - want)
        data = os.pread(fd, size - start, start)
        lines = data.split(b"\n")[:-1]  # the last: empty, or a torn line
        if start == 0:
            return lines
        if len(lines) >= 2:  # the first may be cut; the ones after it are whole
            return lines[1:]
        want *= 2
