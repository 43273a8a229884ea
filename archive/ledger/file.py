"""The erasure ledger as an append-only, fsync'd file beside the key provider.

The embedded default: one JSON line per entry (``archive.ledger.chain``).
Appends take an exclusive lock on the file, so a command-line erasure and a
serving process can both write; a line torn by a power loss (no newline yet)
is cut before the next append, since its transaction never committed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from archive.ledger.chain import ChainedLedger, LedgerEntry

#: How much of the file's end is read first to find its last line (doubled until found).
_TAIL_BYTES: Final = 64 * 1024


class FileLedger(ChainedLedger):
    """Chained, MAC'd entries, one line each, in a file outside the data directory."""

    def __init__(self, path: Path, key: bytes) -> None:
        super().__init__(key)
        self.path = path
        #: (inode, size, mtime) of the file when its head was last read, and that head.
        self._head_cache: tuple[tuple[int, int, int], tuple[int, str] | None] | None = None

    def describe(self) -> str:
        return f"the erasure ledger {self.path}"

    def _append(self, entry: LedgerEntry) -> tuple[int, str]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # the head read and the append are one step
            _drop_torn_line(fd)
            line, number, mac = self.line(entry, self.head_of(_tail_lines(fd)))
            os.write(fd, line + b"\n")
            os.fsync(fd)
            return number, mac
        finally:
            os.close(fd)  # releases the lock

    def head(self, *, fresh: bool = False) -> tuple[int, str] | None:
        """Asked on every audited write (each anchor record names it), while the file
        changes only with erasures: read again only when its size, time or inode did."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            st = os.fstat(fd)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if fresh or self._head_cache is None or self._head_cache[0] != stamp:
                self._head_cache = (stamp, self.head_of(_tail_lines(fd)))
            return self._head_cache[1]
        finally:
            os.close(fd)

    def _stored(self) -> Iterable[bytes]:
        try:
            return self.path.read_bytes().split(b"\n")[:-1]  # last: torn or empty
        except FileNotFoundError:
            return []


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
