"""Key administration on the vault: purpose-key rotation and retirement, master-key
rotation and retirement, each audited.

Rotation re-wraps data keys, never content. Retirement destroys an old key
version for good: a purpose key is retired only when no data key is wrapped by
it any more, and a read that would still need it fails naming the retired
version; a retired master key opens nothing the keyring holds from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import sqlalchemy as sa

import keys
from archive import catalog as cat
from archive import training_tables as tt
from archive.config import Role
from archive.errors import InvalidRequest
from archive.vault import Vault

REWRAP_BATCH_KEYS: Final = 500


def rotate_key(vault: Vault, purpose: str, *, actor: str,
               progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """New KEK version for a purpose; re-wrap every DEK under it (content untouched)."""
    if purpose not in {p.name for p in vault.config.purposes}:
        raise InvalidRequest(f"unknown purpose {purpose!r}")
    version = vault.keyring.rotate(purpose)
    with vault.catalog.read() as conn:
        rows = conn.execute(
            sa.select(cat.wrapped_keys).where(cat.wrapped_keys.c.purpose == purpose,
                                              cat.wrapped_keys.c.kek_version < version)
        ).all()
    done = 0
    for start in range(0, len(rows), REWRAP_BATCH_KEYS):
        batch = rows[start : start + REWRAP_BATCH_KEYS]
        with vault.catalog.write() as conn:
            for r in batch:
                fresh = vault.keyring.rewrap(
                    keys.WrappedKey(r.purpose, r.kek_version, r.blob), r.item_id)
                conn.execute(
                    cat.wrapped_keys.update()
                    .where(cat.wrapped_keys.c.item_id == r.item_id,
                           cat.wrapped_keys.c.purpose == purpose)
                    .values(kek_version=fresh.version, blob=fresh.blob)
                )
        done += len(batch)
        if progress:
            progress(len(batch))
    done += _rewrap_training_sets(vault, purpose, version)
    vault.record_event(actor=actor, role=Role.ADMIN.value, action="rotate_key",
                       purpose=purpose, detail={"version": version, "rewrapped": done})
    return version, done


def _rewrap_training_sets(vault: Vault, purpose: str, version: int) -> int:
    """Training sets keep their pseudonym secret wrapped like a DEK: re-wrapped alike."""
    sets = tt.training_sets
    with vault.catalog.write() as conn:
        rows = conn.execute(sa.select(sets.c.id, sets.c.key_version, sets.c.key_blob)
                            .where(sets.c.key_purpose == purpose,
                                   sets.c.key_version < version)).all()
        for r in rows:
            fresh = vault.keyring.rewrap(keys.WrappedKey(purpose, r.key_version, r.key_blob),
                                         tt.key_context(r.id))
            conn.execute(sets.update().where(sets.c.id == r.id)
                         .values(key_version=fresh.version, key_blob=fresh.blob))
    return len(rows)


def retire_key(vault: Vault, purpose: str, version: int, *, actor: str) -> None:
    """Destroy an old KEK version; refused while any data key is still wrapped by it
    (rotate first: ``rotate_key`` re-wraps them all)."""
    check_retirement(vault, purpose, version)
    vault.keyring.retire(purpose, version)
    vault.record_event(actor=actor, role=Role.ADMIN.value, action="retire_key",
                       purpose=purpose, detail={"version": version})


def check_retirement(vault: Vault, purpose: str, version: int) -> None:
    """Raise what ``retire_key`` would refuse (also a proposal's dry run: the same checks)."""
    if version not in vault.keyring.versions(purpose):
        raise InvalidRequest(f"purpose {purpose!r} has no active key version {version}")
    if version == vault.keyring.current_version(purpose):
        raise InvalidRequest(f"version {version} is {purpose!r}'s current key; rotate first")
    with vault.catalog.read() as conn:
        left = conn.execute(
            sa.select(sa.func.count()).select_from(cat.wrapped_keys)
            .where(cat.wrapped_keys.c.purpose == purpose,
                   cat.wrapped_keys.c.kek_version == version)).scalar_one()
        left += conn.execute(
            sa.select(sa.func.count()).select_from(tt.training_sets)
            .where(tt.training_sets.c.key_purpose == purpose,
                   tt.training_sets.c.key_version == version)).scalar_one()
    if left:
        raise InvalidRequest(f"{left} data key(s) are still wrapped by {purpose!r} version "
                             f"{version}; rotate the key first (`keys rotate {purpose}`)")


def rotate_master(vault: Vault, provider: keys.KeyProvider, *, actor: str) -> int:
    """Re-wrap the keyring under a new master key (both open it until retirement)."""
    version = vault.keyring.add_master(provider)
    vault.record_event(actor=actor, role=Role.ADMIN.value, action="rotate_master",
                       detail={"master_version": version, "kind": provider.kind})
    return version


def retire_master(vault: Vault, version: int, *, actor: str) -> None:
    """Retire an old master key: the keyring is re-sealed under a key it cannot unwrap."""
    vault.keyring.retire_master(version)
    vault.record_event(actor=actor, role=Role.ADMIN.value, action="retire_master",
                       detail={"master_version": version})
