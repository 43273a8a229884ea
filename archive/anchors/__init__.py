"""Where the audit chain's head is anchored: outside the catalog and its directory.

An anchor store only ever grows: each audited write appends one record (the
newest event's sequence number and hash, MAC'd with the audit key), and
``latest`` returns the newest. ``AuditLog.verify`` compares it with the chain,
so cutting events off the end, rolling the anchor back, or losing it shows as
a failure with a position. One module per implementation:

- ``file``: an append-only file on another path (the embedded default, kept
  with the key provider, never in the data directory);
- ``s3``: one object per record in an S3 Object Lock bucket in compliance
  mode, which nobody (root included) can delete or overwrite before it expires;
- ``memory``: for tests and embedders that verify within one process.
"""

from __future__ import annotations

from typing import Protocol


class AuditAnchor(Protocol):
    def describe(self) -> str:
        """Where the anchor lives, for messages."""
        ...

    def append(self, seq: int, record: bytes) -> None:
        """Durably add the record of event ``seq`` (raises OSError when it cannot)."""
        ...

    def latest(self) -> bytes | None:
        """The newest complete record; None when there is no anchor at all."""
        ...

    def close(self) -> None: ...
