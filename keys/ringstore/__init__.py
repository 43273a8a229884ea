"""Where the sealed keyring is kept: a seam, so nodes can share it.

The keyring's bytes are already sealed (its keyring key is wrapped by the
master key, which only the key provider holds), so a storage sees ciphertext
and a public header, never key material. Implementations: ``file`` (one file
beside the data, the embedded default), ``memory`` (tests), and the catalog
(``archive.keyring_store``), which every node on a shared PostgreSQL catalog
reads, so no node keeps anything that matters on its own disk.

A storage has to tell the keyring cheaply whether another process changed it
(:meth:`KeyringStorage.stamp`), and to hold one lock across every process and
node while the keyring is changed (:meth:`KeyringStorage.locked`), so a
rotation on one node is never lost to a concurrent one on another.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class KeyringStorage(Protocol):
    def describe(self) -> str:
        """Where the keyring is, for error messages (no secrets)."""
        ...

    def stamp(self) -> object | None:
        """A value that changes with every save; None when no keyring is stored."""
        ...

    def load(self) -> tuple[bytes, object]:
        """The stored bytes and their stamp; MasterKeyError when there are none."""
        ...

    def save(self, raw: bytes) -> object:
        """Store ``raw`` durably in place of the old bytes; returns the new stamp."""
        ...

    def locked(self) -> AbstractContextManager[None]:
        """Exclusive among every process and node that shares this storage."""
        ...
