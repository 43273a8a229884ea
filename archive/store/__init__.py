"""The object-store seam: where sealed blobs live (system of record for content).

Only sealed bytes are ever given to a store. Writers are context managers: the
object exists (durably) after a clean exit and not at all after an exception.

Its errors (``StoreError`` and subclasses) live in ``archive.errors``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol


class BlobWriter(Protocol):
    def write(self, data: bytes, /) -> int: ...


class ObjectStore(Protocol):
    """Durable key -> bytes storage for sealed blobs."""

    name: str

    def writer(self, key: str) -> AbstractContextManager[BlobWriter]:
        """Write a new object; durable on clean exit, absent after an exception."""
        ...

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def get_range(self, key: str, start: int, length: int) -> bytes: ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object (idempotent); raises BlobLocked under a legal hold."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]: ...

    def set_legal_hold(self, key: str, on: bool) -> bool:
        """Set/clear a storage-level legal hold; False if the backend has none."""
        ...

    def check(self) -> None:
        """Raise StoreUnavailable unless the store can take writes now."""
        ...

    def close(self) -> None:
        """Release descriptors and connections."""
        ...
