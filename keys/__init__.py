"""Key hierarchy: master key -> keyring key -> per-purpose KEKs (versioned) -> per-item DEKs.

The master key comes from a provider (``keys.providers``: key file, passphrase,
PKCS#11) and never from the data directory; it only wraps the keyring key.

Content is sealed under a random per-item DEK; the DEK is wrapped once per
purpose the item carries, so dropping a purpose (destroying its wrapped DEK)
makes that purpose's access impossible, not merely forbidden.

Exceptions::

    KeysError
     ├── MasterKeyError        master key missing, malformed or too open
     ├── UnknownKey            no KEK for that purpose/version
     ├── UnwrapError           a wrapped DEK does not authenticate
     └── IntegrityError        sealed content tampered with, truncated or reordered
"""

from __future__ import annotations

from keys.aead import (
    CHUNK_SIZE_BYTES,
    SealingWriter,
    open_sealed,
    read_sealed_range,
    seal_bytes,
    sealed_size,
    unseal_bytes,
)
from keys.errors import IntegrityError, KeysError, MasterKeyError, UnknownKey, UnwrapError
from keys.keyring import Keyring, MasterVersion, WrappedKey, archive_id_of, new_dek
from keys.providers import KeyProvider

__all__ = [
    "CHUNK_SIZE_BYTES",
    "IntegrityError",
    "KeyProvider",
    "Keyring",
    "KeysError",
    "MasterKeyError",
    "MasterVersion",
    "SealingWriter",
    "UnknownKey",
    "UnwrapError",
    "WrappedKey",
    "archive_id_of",
    "new_dek",
    "open_sealed",
    "read_sealed_range",
    "seal_bytes",
    "sealed_size",
    "unseal_bytes",
]
