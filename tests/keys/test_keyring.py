"""Master key handling and the versioned, rotatable per-purpose keyring."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from keys import (
    Keyring,
    MasterKeyError,
    UnknownKey,
    UnwrapError,
    load_master_key,
    new_dek,
    new_master_key,
)


def test_master_key_file_is_created_0600_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    key = new_master_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_master_key(None, path) == key
    with pytest.raises(FileExistsError):
        new_master_key(path)


def test_master_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    new_master_key(path)
    path.chmod(0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        load_master_key(None, path)


def test_master_key_from_environment_forms_and_placeholders() -> None:
    raw = bytes(range(32))
    assert load_master_key(raw.hex(), None) == raw
    assert load_master_key(base64.b64encode(raw).decode(), None) == raw
    for bad in ("changeme", "dG9vIHNob3J0", "zz" * 32):
        with pytest.raises(MasterKeyError):
            load_master_key(bad, None)
    with pytest.raises(MasterKeyError, match="no master key"):
        load_master_key(None, None)


def test_wrong_master_key_cannot_open_the_keyring(tmp_path: Path) -> None:
    Keyring.create(tmp_path / "ring", new_dek()).ensure_purpose("quality")
    with pytest.raises(MasterKeyError, match="does not open"):
        Keyring(tmp_path / "ring", new_dek())


def test_rotation_keeps_old_wraps_readable_and_rewraps_to_current(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "ring", new_dek())
    dek = new_dek()
    old = ring.wrap(dek, "quality", "item1")
    assert old.version == 1
    assert ring.rotate("quality") == 2
    assert ring.unwrap(old, "item1") == dek
    fresh = ring.rewrap(old, "item1")
    assert fresh.version == 2
    assert ring.unwrap(fresh, "item1") == dek
    ring.retire("quality", 1)
    with pytest.raises(UnknownKey):
        ring.unwrap(old, "item1")


def test_wrapped_key_is_bound_to_item_and_purpose(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "ring", new_dek())
    wrapped = ring.wrap(new_dek(), "quality", "item1")
    with pytest.raises(UnwrapError):
        ring.unwrap(wrapped, "item2")


def test_a_second_process_sees_rotation(tmp_path: Path) -> None:
    master = new_dek()
    server = Keyring.create(tmp_path / "ring", master)
    server.ensure_purpose("legal")
    cli = Keyring(tmp_path / "ring", master)
    cli.rotate("legal")
    assert server.current_version("legal") == 2
