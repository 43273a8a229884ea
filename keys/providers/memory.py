"""A raw master key held in memory: for tests and embedders that keep the key
themselves (it is never written anywhere by this provider)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from keys.errors import MasterKeyError
from keys.providers import KEY_SIZE_BYTES, aead_unwrap, aead_wrap, fingerprint

KIND: Final = "memory"


class MemoryKeyProvider:
    kind = KIND

    def __init__(self, master: bytes, *, kind: str = KIND) -> None:
        if len(master) != KEY_SIZE_BYTES:
            raise MasterKeyError("master key must be 32 bytes")
        self._master = master
        self.kind = kind

    def describe(self) -> str:
        return f"the master key {fingerprint(self._master)}"

    def wrap(self, key: bytes, context: str) -> dict[str, str]:
        return aead_wrap(self.kind, self._master, key, context)

    def unwrap(self, entry: Mapping[str, str], context: str) -> bytes:
        return aead_unwrap(self._master, entry, context, self.describe())

    def close(self) -> None:
        return None
