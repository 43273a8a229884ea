"""The keyring in memory: for tests and for one process that keeps nothing."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from keys.errors import MasterKeyError


class MemoryKeyringStorage:
    def __init__(self) -> None:
        self._raw: bytes | None = None
        self._revision = 0
        self._lock = threading.RLock()

    def describe(self) -> str:
        return "memory"

    def stamp(self) -> object | None:
        return None if self._raw is None else self._revision

    def load(self) -> tuple[bytes, object]:
        if self._raw is None:
            raise MasterKeyError("keyring memory does not exist")
        return self._raw, self._revision

    def save(self, raw: bytes) -> object:
        self._raw = raw
        self._revision += 1
        return self._revision

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self._lock:
            yield
