"""Stateless nodes: with ``keyring_store=catalog`` on a shared PostgreSQL catalog, the
keyring is a row every node reads, so a node's data directory holds nothing but the
configuration every node mounts, and a second node opens the archive from that alone.

The PostgreSQL server is the one ``tests.services`` starts (never skipped under CI).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from archive.config import CONFIG_FILE_NAME, Role
from archive.errors import ConfigError
from commarchive import runtime
from commarchive.settings import KeyringStoreKind, Settings
from tests.conftest import email_item
from tests.services import postgres_database, s3_endpoint


def _node(data_dir: Path, catalog_url: str, key_file: Path, bucket: str) -> Settings:
    s3 = s3_endpoint()
    return Settings(data_dir=data_dir, catalog_url=catalog_url, keyring_store="catalog",
                    master_key_file=key_file, store="s3", s3_endpoint=s3["endpoint_url"],
                    s3_access_key=s3["access_key"], s3_secret_key=s3["secret_key"],
                    s3_region=s3["region"], s3_bucket=bucket,
                    audit_anchor_s3_bucket=f"{bucket}-anchor")


def test_a_second_node_opens_the_archive_from_the_shared_catalog_alone(tmp_path: Path) -> None:
    url = postgres_database()
    key_file = tmp_path / "secrets" / "master.key"  # a secret mounted on every node
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    node_a = _node(tmp_path / "a", url, key_file, bucket)
    a = runtime.init_archive(node_a)
    try:
        # Only the configuration every node mounts: no keyring beside the data.
        assert not (tmp_path / "a" / runtime.KEYRING_FILE).exists()
        (tmp_path / "b").mkdir(mode=0o700)
        shutil.copy(tmp_path / "a" / CONFIG_FILE_NAME, tmp_path / "b" / CONFIG_FILE_NAME)
        b = runtime.open_archive(_node(tmp_path / "b", url, key_file, bucket))
        try:
            assert b.keyring.archive_id == a.keyring.archive_id
            item_id = a.ingest(email_item(body="the router reboots nightly")).item_id
            token = b.users.add("q", Role.QUALITY)
            content = b.read_content(b.authenticate(token), item_id, purpose="quality")
            assert b"router reboots" in content.data
            # A rotation on B is what A wraps the next item with.
            new_version = b.keyring.rotate("quality")
            assert a.keyring.current_version("quality") == new_version
            assert not (tmp_path / "b" / runtime.KEYRING_FILE).exists()
            # The audit chain is anchored in the Object Lock bucket: no anchor file.
            assert b.audit.verify().ok
            assert not list(tmp_path.rglob("*.anchor"))
        finally:
            b.close()
    finally:
        a.close()


def test_the_catalog_keyring_needs_a_shared_catalog_server() -> None:
    with pytest.raises(ValueError, match="keyring_store=catalog needs"):
        Settings(keyring_store=KeyringStoreKind.CATALOG)
    with pytest.raises(ValueError, match="keyring_store=catalog needs"):
        Settings(keyring_store=KeyringStoreKind.CATALOG, catalog_url="sqlite:///x.sqlite")


def test_a_node_whose_shared_settings_differ_refuses_to_start_until_adopted(
    tmp_path: Path
) -> None:
    url = postgres_database()
    key_file = tmp_path / "secrets" / "master.key"
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    runtime.init_archive(_node(tmp_path / "a", url, key_file, bucket)).close()
    (tmp_path / "b").mkdir(mode=0o700)
    toml = (tmp_path / "a" / CONFIG_FILE_NAME).read_text()
    (tmp_path / "b" / CONFIG_FILE_NAME).write_text(toml + "\n# edited on node B only\n")
    node_b = _node(tmp_path / "b", url, key_file, bucket)
    with pytest.raises(ConfigError, match=r"this node's archive\.toml does not match"):
        runtime.open_archive(node_b)
    other_index = node_b.model_copy(update={"es_prefix": "elsewhere"})
    (tmp_path / "b" / CONFIG_FILE_NAME).write_text(toml)
    with pytest.raises(ConfigError, match="COMMARCHIVE_ES_PREFIX does not match"):
        runtime.open_archive(other_index)
    # Adopted on B, the archive's settings are B's: now A is the odd one out.
    runtime.open_archive(other_index.model_copy(
        update={"adopt_shared_settings": True})).close()
    runtime.open_archive(other_index).close()
    with pytest.raises(ConfigError, match="COMMARCHIVE_ES_PREFIX"):
        runtime.open_archive(_node(tmp_path / "a", url, key_file, bucket))


def test_one_node_on_sqlite_may_change_its_settings_freely(tmp_path: Path) -> None:
    runtime.init_archive(Settings(data_dir=tmp_path / "a")).close()
    runtime.open_archive(Settings(data_dir=tmp_path / "a", es_prefix="other")).close()


def test_an_archive_with_a_keyring_file_moves_it_into_the_catalog(tmp_path: Path) -> None:
    url = postgres_database()
    key_file = tmp_path / "secrets" / "master.key"
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    on_file = _node(tmp_path / "a", url, key_file, bucket).model_copy(
        update={"keyring_store": KeyringStoreKind.FILE})
    arc = runtime.init_archive(on_file)
    item_id = arc.ingest(email_item(body="kept across the move")).item_id
    arc.close()
    in_catalog = _node(tmp_path / "a", url, key_file, bucket)
    with pytest.raises(ConfigError, match="keys move-keyring"):
        runtime.open_archive(in_catalog)
    runtime.move_keyring(in_catalog)
    assert not (tmp_path / "a" / runtime.KEYRING_FILE).exists()
    arc = runtime.open_archive(in_catalog)
    try:
        user = arc.authenticate(arc.users.add("q", Role.QUALITY))
        assert b"kept across the move" in arc.read_content(user, item_id).data
    finally:
        arc.close()
    with pytest.raises(ConfigError, match="already holds a keyring"):
        runtime.move_keyring(in_catalog)
