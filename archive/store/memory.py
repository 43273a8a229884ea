"""In-memory object store: real code for unit tests and failure injection."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from archive.errors import BlobLocked, BlobNotFound, StoreUnavailable
from archive.store.naming import check_key


class _BufferWriter:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.parts.append(bytes(data))
        return len(data)


class MemoryStore:
    name = "memory"

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._held: set[str] = set()
        self._lock = threading.Lock()
        #: Set to a reason to make every operation fail as if the backend were down.
        self.fail_with: str | None = None

    def _check_up(self, key: str) -> None:
        if self.fail_with is not None:
            raise StoreUnavailable(key, reason=self.fail_with)

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[_BufferWriter]:
        check_key(key)
        self._check_up(key)
        buf = _BufferWriter()
        yield buf
        self._check_up(key)
        with self._lock:
            self._objects[key] = b"".join(buf.parts)

    def put(self, key: str, data: bytes) -> None:
        with self.writer(key) as w:
            w.write(data)

    def get(self, key: str) -> bytes:
        self._check_up(key)
        try:
            return self._objects[key]
        except KeyError:
            raise BlobNotFound(key) from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self.get(key)[start : start + length]

    def size(self, key: str) -> int:
        return len(self.get(key))

    def exists(self, key: str) -> bool:
        self._check_up(key)
        return key in self._objects

    def delete(self, key: str) -> None:
        self._check_up(key)
        with self._lock:
            if key in self._held:
                raise BlobLocked(key)
            self._objects.pop(key, None)

    def keys(self, prefix: str = "") -> Iterator[str]:
        self._check_up(prefix)
        yield from sorted(k for k in list(self._objects) if k.startswith(prefix))

    def set_legal_hold(self, key: str, on: bool) -> bool:
        with self._lock:
            if key not in self._objects:
                raise BlobNotFound(key)
            (self._held.add if on else self._held.discard)(key)
        return True

    def check(self) -> None:
        self._check_up("")

    def close(self) -> None:
        return None
