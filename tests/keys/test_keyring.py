"""Master key handling and the versioned, rotatable per-purpose keyring."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from keys import Keyring, MasterKeyError, UnknownKey, UnwrapError, new_dek
from keys.providers.file import FileKeyProvider, decode_key, read_key_file, write_key_file


def test_master_key_file_is_created_0600_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    key = write_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert read_key_file(path) == key
    with pytest.raises(MasterKeyError, match="already exists"):
        write_key_file(path)


def test_master_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    write_key_file(path)
    path.chmod(0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        FileKeyProvider(path)


def test_master_key_file_inside_the_data_directory_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for where in (data_dir / "master.key", data_dir / "sub" / "k.key"):
        with pytest.raises(MasterKeyError, match="inside the data directory"):
            FileKeyProvider.create(where, data_dir=data_dir)
        assert not where.exists()
    # A link from outside that leads into the data directory is still inside it.
    write_key_file(data_dir / "hidden.key")
    (tmp_path / "link.key").symlink_to(data_dir / "hidden.key")
    with pytest.raises(MasterKeyError, match="inside the data directory"):
        FileKeyProvider(tmp_path / "link.key", data_dir=data_dir)


def test_master_key_text_forms_and_placeholders() -> None:
    raw = bytes(range(32))
    assert decode_key(raw.hex(), "x") == raw
    assert decode_key(base64.b64encode(raw).decode(), "x") == raw
    for bad in ("changeme", "dG9vIHNob3J0", "zz" * 32):
        with pytest.raises(MasterKeyError):
            decode_key(bad, "x")


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
    with pytest.raises(UnknownKey, match="was retired") as err:
        ring.unwrap(old, "item1")
    assert err.value.retired and err.value.version == 1
    assert ring.rotate("quality") == 3  # a retired version number is never reused


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
