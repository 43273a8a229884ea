"""Key providers: where the master key lives, behind one seam.

The master key never sits in the data directory. It only wraps the keyring key
(the key that seals ``keyring.sealed``), so a copy of the data directory alone
opens nothing, and rotating the master key re-wraps one small key instead of
touching any content. One module per provider:

- ``file``: a 0600 key file outside the data directory;
- ``passphrase``: a key derived with scrypt from a passphrase read from a
  terminal, a file descriptor or a systemd credential;
- ``pkcs11``: an AES key inside an HSM that wraps and unwraps in the token;
- ``memory``: a raw key held in memory, for tests and embedders.

Each wraps the keyring key into an *entry* (a small mapping of strings stored in
the keyring's header: the provider's kind, what it needs to find its key again,
and the wrapped bytes) and unwraps entries of its own kind.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.errors import MasterKeyError

KEY_SIZE_BYTES: Final = 32


@runtime_checkable
class KeyProvider(Protocol):
    """Wraps and unwraps the keyring key with a master key it keeps to itself."""

    #: Stored in every entry this provider writes; only entries of its kind are tried.
    kind: str

    def describe(self) -> str:
        """Where the master key is, for messages (never the key itself)."""
        ...

    def wrap(self, key: bytes, context: str) -> dict[str, str]:
        """An entry holding ``key`` wrapped under the master key, bound to ``context``."""
        ...

    def unwrap(self, entry: Mapping[str, str], context: str) -> bytes:
        """The key inside an entry of this provider's kind; MasterKeyError when the
        master key is not the one that wrapped it."""
        ...

    def close(self) -> None:
        """Release sessions or handles (a no-op for most providers)."""
        ...


def fingerprint(master: bytes) -> str:
    """A short public name of a raw master key, so messages can say which key is which."""
    return hashlib.sha256(b"commarchive master fingerprint|" + master).hexdigest()[:16]


def aead_wrap(kind: str, master: bytes, key: bytes, context: str) -> dict[str, str]:
    """The entry of a provider that holds a raw master key in memory (file, passphrase)."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(master).encrypt(nonce, key, f"keyring-key|{context}".encode())
    return {"kind": kind, "fingerprint": fingerprint(master),
            "wrapped": base64.b64encode(nonce + sealed).decode()}


def aead_unwrap(master: bytes, entry: Mapping[str, str], context: str, where: str) -> bytes:
    if entry.get("fingerprint") != fingerprint(master):
        raise MasterKeyError(f"the keyring does not open with {where}")
    blob = base64.b64decode(entry["wrapped"])
    try:
        return AESGCM(master).decrypt(blob[:12], blob[12:], f"keyring-key|{context}".encode())
    except InvalidTag:
        raise MasterKeyError(f"the keyring does not open with {where}") from None


def is_inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or lies under it (symlinks resolved)."""
    target = path.expanduser().resolve()
    base = directory.expanduser().resolve()
    return target == base or target.is_relative_to(base)


def refuse_inside(path: Path, data_dir: Path | None, what: str) -> None:
    """Refuse key material (or the anchor, or the ledger) inside the data directory:
    a copy of that directory must open nothing and vouch for nothing."""
    if data_dir is not None and is_inside(path, data_dir):
        raise MasterKeyError(
            f"{what} {path} is inside the data directory {data_dir}; it must live "
            "elsewhere (a copy of the data directory alone must open nothing)"
        )
