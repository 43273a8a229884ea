"""Key hierarchy: master key -> per-purpose KEKs (versioned) -> per-item DEKs.

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
from keys.keyring import Keyring, WrappedKey, load_master_key, new_dek, new_master_key

__all__ = [
    "CHUNK_SIZE_BYTES",
    "IntegrityError",
    "Keyring",
    "KeysError",
    "MasterKeyError",
    "SealingWriter",
    "UnknownKey",
    "UnwrapError",
    "WrappedKey",
    "load_master_key",
    "new_dek",
    "new_master_key",
    "open_sealed",
    "read_sealed_range",
    "seal_bytes",
    "sealed_size",
    "unseal_bytes",
]
