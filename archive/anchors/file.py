"""The audit anchor as an append-only file on another path than the data directory.

Records are lines appended with ``O_APPEND`` and fsync'd; a line torn by a
crash is ignored (the one before it still counts). Nothing ever rewrites the
file, so an operator can also make it append-only at the filesystem level
(``chattr +a``) or ship it to a log host.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

#: Far more than one record (about 150 bytes), so the tail holds the newest whole line.
TAIL_BYTES: Final = 64 * 1024


class FileAnchor:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def describe(self) -> str:
        return f"the audit anchor file {self.path}"

    def append(self, seq: int, record: bytes) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(self._fd, record.rstrip(b"\n") + b"\n")
        os.fsync(self._fd)

    def latest(self) -> bytes | None:
        """The last complete line, read from the file's tail (the file only grows)."""
        try:
            with self.path.open("rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - TAIL_BYTES))
                raw = fh.read()
        except FileNotFoundError:
            return None
        lines = raw.split(b"\n")
        complete = lines[:-1]  # whatever follows the last newline was torn mid-write
        for line in reversed(complete):
            if line.strip():
                return line
        return b""

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
