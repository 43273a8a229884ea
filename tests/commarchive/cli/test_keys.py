"""Key custody as an operator meets it: `init` keeps the master key out of the data
directory, no file in it holds a key that opens anything, old archives that kept
their key inside are refused until `keys move-master`."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import keys
from commarchive import runtime
from commarchive.settings import Settings
from keys.providers.file import read_key_file
from tests.commarchive.cli.test_cli import SAMPLE_MAIL, cli


def _forms(secret: bytes) -> list[bytes]:
    """The ways a key could sit in a file: raw, hex, base64 (both alphabets)."""
    b64 = base64.b64encode(secret)
    return [secret, secret.hex().encode(), b64.rstrip(b"="),
            base64.urlsafe_b64encode(secret).rstrip(b"=")]


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _assert_no_key_in(data_dir: Path, secrets_: list[bytes]) -> None:
    found = [(p.name, n) for p in _files(data_dir) for n, s in enumerate(secrets_)
             if any(form in p.read_bytes() for form in _forms(s))]
    assert not found, f"key material in the data directory: {found}"


def _all_keys(data_dir: Path, key_file: Path) -> list[bytes]:
    """Every key that opens something: master, keyring key, KEKs, secrets, item DEKs."""
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        ring = arc.keyring
        found = [read_key_file(key_file), ring.secret("audit"), ring.secret("dedupe"),
                 ring._krk]
        found += [base64.b64decode(v) for entry in ring._data.values()
                  for v in entry["versions"].values()]
        found += [arc.vault.dek(item_id) for item_id in arc.vault.item_ids()]
    finally:
        arc.close()
    return found


def test_init_puts_the_master_key_outside_and_the_data_directory_holds_no_key(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "arc"
    proc = cli("init", str(data_dir))
    config_home = Path(os.environ["XDG_CONFIG_HOME"])
    key_files = list((config_home / "commarchive").glob("*.key"))
    assert len(key_files) == 1
    key_file = key_files[0]
    assert str(key_file) in proc.stderr and "passphrase or pkcs11" in proc.stderr
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert not key_file.is_relative_to(data_dir)
    _assert_no_key_in(data_dir, _all_keys(data_dir, key_file))
    # ... and after use: ingest, read, verify.
    mail = tmp_path / "m.eml"
    mail.write_bytes(SAMPLE_MAIL)
    cli("ingest", str(mail), data_dir=data_dir)
    assert "audit log OK" in cli("audit", "verify", data_dir=data_dir).stdout
    every_key = _all_keys(data_dir, key_file)
    # master, 2 secrets, keyring key, one KEK per purpose of the mail, its DEK
    assert len(every_key) >= 4 + 2 + 1
    _assert_no_key_in(data_dir, every_key)


def test_a_copy_of_the_data_directory_alone_opens_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "arc"
    cli("init", str(data_dir))
    proc = subprocess.run(
        [sys.executable, "-m", "commarchive", "--data-dir", str(data_dir), "audit", "verify"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "thief-home")})
    assert proc.returncode == 1
    assert "master key file" in proc.stderr and "does not exist" in proc.stderr


def test_a_key_file_inside_the_data_directory_is_refused_at_init(tmp_path: Path) -> None:
    data_dir = tmp_path / "arc"
    proc = cli("init", str(data_dir), check=False,
               env={"COMMARCHIVE_MASTER_KEY_FILE": str(data_dir / "master.key")})
    assert proc.returncode == 1 and "inside the data directory" in proc.stderr
    assert not (data_dir / "master.key").exists()


def test_a_raw_master_key_in_the_environment_needs_development_mode(tmp_path: Path) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    proc = cli("init", str(tmp_path / "a"), check=False, env={"COMMARCHIVE_MASTER_KEY": key})
    assert proc.returncode == 1 and "COMMARCHIVE_DEV_KEYS_FROM_ENV" in proc.stderr
    cli("init", str(tmp_path / "b"),
        env={"COMMARCHIVE_MASTER_KEY": key, "COMMARCHIVE_DEV_KEYS_FROM_ENV": "true"})


def _make_legacy(data_dir: Path) -> str:
    """An archive as the old `init` left it: master.key inside the data directory, the
    keyring sealed directly by it, the audit and dedupe secrets derived from it.
    Returns the id of one ingested item."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from archive.catalog import Catalog, sqlite_url
    from archive.config import DEFAULT_CONFIG_TOML, load_config
    from archive.index.sqlite import SqliteIndex
    from archive.service import Archive
    from archive.store.local import LocalStore
    from tests.conftest import email_item

    master = keys.new_dek()
    derived = {label: HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                           info=f"commarchive/{label}".encode()).derive(master)
               for label in ("audit", "dedupe")}
    data_dir.mkdir(mode=0o700)
    (data_dir / "archive.toml").write_text(DEFAULT_CONFIG_TOML)
    config = load_config(data_dir)
    ring = keys.Keyring.create(data_dir / "keyring.sealed", keys.new_dek(),
                               initial_secrets=derived)
    for purpose in config.purposes:
        ring.ensure_purpose(purpose.name)
    catalog = Catalog(sqlite_url(data_dir / "catalog.sqlite"))
    catalog.create_schema()
    index = SqliteIndex(data_dir / "index.sqlite")
    index.ensure()
    arc = Archive(data_dir=data_dir, config=config, catalog=catalog,
                  store=LocalStore(data_dir / "blobs"), index=index, keyring=ring)
    item_id = arc.ingest(email_item(body="legacy content here")).item_id
    purposes = ring._data  # the old file held exactly this mapping, sealed by the master
    arc.close()
    nonce = secrets.token_bytes(12)
    body = AESGCM(master).encrypt(nonce, json.dumps(purposes).encode(),
                                  b"commarchive keyring v1")
    (data_dir / "keyring.sealed").write_bytes(b"CMKR1" + nonce + body)
    key_file = data_dir / "master.key"
    key_file.write_text(base64.urlsafe_b64encode(master).decode() + "\n")
    key_file.chmod(0o600)
    return item_id


def test_an_archive_with_its_master_key_inside_is_refused_until_moved_out(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "old"
    item_id = _make_legacy(data_dir)
    refused = cli("audit", "verify", data_dir=data_dir, check=False)
    assert refused.returncode == 1 and "keys move-master" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    moved = cli("keys", "move-master", data_dir=data_dir)
    assert not (data_dir / "master.key").exists()
    key_file = Path(json.loads(moved.stdout)["key_file"])
    assert not key_file.is_relative_to(data_dir) and key_file.exists()
    # The chain kept verifying across the move; the content still opens.
    assert "audit log OK" in cli("audit", "verify", data_dir=data_dir).stdout
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        assert b"legacy content here" in arc.vault.unseal_for_system(item_id, "original")
    finally:
        arc.close()
    _assert_no_key_in(data_dir, _all_keys(data_dir, key_file))


def test_master_rotation_while_serving_then_retirement_locks_the_old_key_out(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "arc"
    cli("init", str(data_dir))
    serving = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        from tests.conftest import email_item

        item_id = serving.ingest(email_item(body="read me across the rotation")).item_id
        old_key = runtime.key_file_path(Settings(data_dir=data_dir),
                                        serving.keyring.archive_id)
        rotated = json.loads(cli("keys", "rotate-master", data_dir=data_dir).stdout)
        new_key = Path(rotated["key"])
        assert rotated["master_version"] == 2 and new_key != old_key
        assert not new_key.is_relative_to(data_dir)
        # The serving process still reads (the old key opens the re-sealed keyring) ...
        assert b"read me" in serving.vault.unseal_for_system(item_id, "original")
        new_env = {"COMMARCHIVE_MASTER_KEY_FILE": str(new_key)}
        # ... retiring the old key needs the new one configured ...
        refused = cli("keys", "retire-master", "1", data_dir=data_dir, check=False)
        assert refused.returncode == 1 and "current master key" in refused.stderr
        cli("keys", "retire-master", "1", data_dir=data_dir, env=new_env)
        # ... after which the old key opens nothing, not even in a running process.
        with pytest.raises(keys.MasterKeyError, match="does not open"):
            serving.vault.unseal_for_system(item_id, "original")
    finally:
        serving.close()
    old = cli("audit", "verify", data_dir=data_dir, check=False)
    assert old.returncode == 1 and "does not open" in old.stderr
    assert "audit log OK" in cli("audit", "verify", data_dir=data_dir, env=new_env).stdout
    masters = [json.loads(line) for line in
               cli("keys", "masters", data_dir=data_dir, env=new_env).stdout.splitlines()]
    assert [(m["version"], m["current"]) for m in masters] == [(2, True)]
    reopened = runtime.open_archive(Settings(data_dir=data_dir, master_key_file=new_key))
    try:
        assert b"read me" in reopened.vault.unseal_for_system(item_id, "original")
        actions = [e.action for e in reopened.audit.events()]
        assert "rotate_master" in actions and "retire_master" in actions
    finally:
        reopened.close()


def _pipe_with(text: str) -> int:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, text.encode())
    os.close(write_fd)
    return read_fd


def _cli_fd(*args: str, env: dict[str, str], fd: int,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "COMMARCHIVE_DATA_DIR"}
    proc = subprocess.run([sys.executable, "-m", "commarchive", *args], capture_output=True,
                          text=True, env={**full, **env}, timeout=120, pass_fds=(fd,))
    os.close(fd)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_passphrase_provider_from_a_descriptor_and_a_systemd_credential(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "arc"
    phrase = "a long enough passphrase for tests"
    fd = _pipe_with(phrase + "\n")
    env = {"COMMARCHIVE_KEY_PROVIDER": "passphrase", "COMMARCHIVE_PASSPHRASE_SOURCE": f"fd:{fd}"}
    proc = _cli_fd("init", str(data_dir), env=env, fd=fd)
    assert "passphrase or pkcs11" not in proc.stderr  # no key-file warning
    assert not list((Path(os.environ["XDG_CONFIG_HOME"]) / "commarchive").glob("*.key"))
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "commarchive-passphrase").write_text(phrase + "\n")
    ok = cli("audit", "verify", data_dir=data_dir, env={
        "COMMARCHIVE_KEY_PROVIDER": "passphrase", "CREDENTIALS_DIRECTORY": str(creds)})
    assert "audit log OK" in ok.stdout
    wrong = _pipe_with("not the passphrase at all\n")
    proc = _cli_fd("--data-dir", str(data_dir), "audit", "verify", check=False, fd=wrong,
                   env={**env, "COMMARCHIVE_PASSPHRASE_SOURCE": f"fd:{wrong}"})
    assert proc.returncode == 1 and "does not open with this passphrase" in proc.stderr
    plain_env = cli("audit", "verify", data_dir=data_dir, check=False, env={
        "COMMARCHIVE_KEY_PROVIDER": "passphrase", "COMMARCHIVE_PASSPHRASE_SOURCE": "env",
        "COMMARCHIVE_PASSPHRASE": phrase})
    assert plain_env.returncode == 1 and "development mode" in plain_env.stderr


def test_pkcs11_provider_keeps_the_master_key_in_the_hsm(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.keys.softhsm import softhsm_token

    hsm = softhsm_token(tmp_path_factory.mktemp("hsm"))
    env = {"COMMARCHIVE_KEY_PROVIDER": "pkcs11", "COMMARCHIVE_PKCS11_MODULE": str(hsm.module),
           "COMMARCHIVE_PKCS11_TOKEN": hsm.token_label, "COMMARCHIVE_PKCS11_PIN": hsm.pin,
           "COMMARCHIVE_PKCS11_KEY_LABEL": f"cli-{secrets.token_hex(4)}",
           "SOFTHSM2_CONF": str(hsm.conf)}
    data_dir = tmp_path / "arc"
    cli("init", str(data_dir), env=env)
    mail = tmp_path / "m.eml"
    mail.write_bytes(SAMPLE_MAIL)
    cli("ingest", str(mail), data_dir=data_dir, env=env)
    assert "audit log OK" in cli("audit", "verify", data_dir=data_dir, env=env).stdout
    other = {**env, "COMMARCHIVE_PKCS11_KEY_LABEL": "no-such-key"}
    proc = cli("audit", "verify", data_dir=data_dir, env=other, check=False)
    assert proc.returncode == 1 and "does not open with HSM key 'no-such-key'" in proc.stderr
    masters = json.loads(cli("keys", "masters", data_dir=data_dir, env=env).stdout)
    assert masters["kind"] == "pkcs11" and masters["key_label"] == env[
        "COMMARCHIVE_PKCS11_KEY_LABEL"]


def test_purpose_key_rotation_then_retirement_from_the_command_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "arc"
    cli("init", str(data_dir))
    mail = tmp_path / "m.eml"
    mail.write_bytes(SAMPLE_MAIL)
    item_id = cli("ingest", str(mail), data_dir=data_dir).stdout.strip()
    current = cli("keys", "retire", "quality", "1", data_dir=data_dir, check=False)
    assert current.returncode == 1 and "current key" in current.stderr
    assert json.loads(cli("keys", "rotate", "quality", data_dir=data_dir).stdout)["version"] == 2
    assert json.loads(cli("keys", "retire", "quality", "1", data_dir=data_dir).stdout) == {
        "purpose": "quality", "retired": 1}
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        assert arc.keyring.versions("quality") == [2]
        assert b"glasvezel" in arc.vault.unseal_for_system(item_id, "original")
    finally:
        arc.close()


def test_pkcs11_settings_are_complete_or_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="COMMARCHIVE_PKCS11_MODULE"):
        Settings(key_provider="pkcs11", pkcs11_token="t", pkcs11_pin="4711-1234")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(key_provider="pkcs11", pkcs11_module="/x.so", pkcs11_token="t",
                 pkcs11_pin="changeme")
