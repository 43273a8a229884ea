"""One contract suite over every key provider: file, passphrase, PKCS#11 (SoftHSM2),
memory. Each wraps the keyring key so that only its own master key opens it."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from keys import KeyProvider, Keyring, MasterKeyError, new_dek
from keys.providers.file import FileKeyProvider
from keys.providers.memory import MemoryKeyProvider
from keys.providers.passphrase import PassphraseKeyProvider, read_passphrase
from tests.keys.softhsm import softhsm_token

#: Cheap scrypt for the contract tests; production uses passphrase.SCRYPT_N.
TEST_SCRYPT_N = 2**10

Factory = Callable[[str], KeyProvider]


@pytest.fixture(params=["file", "passphrase", "pkcs11", "memory"])
def provider_factory(request: pytest.FixtureRequest, tmp_path: Path,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[Factory]:
    """Makes providers with distinct master keys, by name ("a", "b")."""
    made: list[KeyProvider] = []
    if request.param == "pkcs11":
        from keys.providers.pkcs11 import Pkcs11KeyProvider

        hsm = softhsm_token(tmp_path_factory.mktemp("hsm"))
        run = uuid.uuid4().hex[:8]

        def make(name: str) -> KeyProvider:
            p = Pkcs11KeyProvider(hsm.module, token_label=hsm.token_label, pin=hsm.pin,
                                  key_label=f"master-{name}-{run}")
            with contextlib.suppress(MasterKeyError):  # made before: the same key again
                p.create_key()
            made.append(p)
            return p
    elif request.param == "file":
        def make(name: str) -> KeyProvider:
            path = tmp_path / "keys" / f"{name}.key"
            p = FileKeyProvider(path) if path.exists() else FileKeyProvider.create(path)
            made.append(p)
            return p
    elif request.param == "passphrase":
        def make(name: str) -> KeyProvider:
            return PassphraseKeyProvider(f"correct horse battery {name}".encode(),
                                         n=TEST_SCRYPT_N)
    else:
        keys_by_name: dict[str, bytes] = {}

        def make(name: str) -> KeyProvider:
            return MemoryKeyProvider(keys_by_name.setdefault(name, new_dek()))
    yield make
    for p in made:
        p.close()


def test_a_provider_opens_what_it_wrapped_and_nothing_else(
    provider_factory: Factory, tmp_path: Path,
) -> None:
    ring = Keyring.create(tmp_path / "ring", provider_factory("a"))
    ring.ensure_purpose("quality")
    wrapped = ring.wrap(b"k" * 32, "quality", "item1")
    again = Keyring(tmp_path / "ring", provider_factory("a"))
    assert again.unwrap(wrapped, "item1") == b"k" * 32
    assert again.secret("audit") == ring.secret("audit")
    with pytest.raises(MasterKeyError, match="does not open"):
        Keyring(tmp_path / "ring", provider_factory("b"))


def test_the_keyring_file_holds_no_key_in_the_clear(
    provider_factory: Factory, tmp_path: Path,
) -> None:
    ring = Keyring.create(tmp_path / "ring", provider_factory("a"))
    ring.ensure_purpose("quality")
    raw = (tmp_path / "ring").read_bytes()
    import base64

    for secret in (ring.secret("audit"), ring.secret("dedupe"), ring._krk):
        assert secret not in raw and base64.b64encode(secret) not in raw


def test_master_rotation_to_the_same_kind_then_retirement(
    provider_factory: Factory, tmp_path: Path,
) -> None:
    ring = Keyring.create(tmp_path / "ring", provider_factory("a"))
    wrapped = ring.wrap(b"d" * 32, "legal", "item1")
    assert ring.add_master(provider_factory("b")) == 2
    # Both open it until the old one is retired (servers running on "a" go on).
    assert Keyring(tmp_path / "ring", provider_factory("a")).unwrap(wrapped, "item1")
    new = Keyring(tmp_path / "ring", provider_factory("b"))
    with pytest.raises(MasterKeyError, match="open the keyring with the current"):
        ring.retire_master(1)
    new.retire_master(1)
    assert new.unwrap(wrapped, "item1") == b"d" * 32
    with pytest.raises(MasterKeyError, match="does not open"):
        Keyring(tmp_path / "ring", provider_factory("a"))
    with pytest.raises(MasterKeyError, match="does not open"):
        ring.unwrap(wrapped, "item1")  # the old process reloads the file and fails loudly
    assert [(m.version, m.current) for m in new.masters()] == [(2, True)]


def test_passphrase_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"a passphrase from a pipe\n")
    os.close(write_fd)
    assert read_passphrase(f"fd:{read_fd}") == b"a passphrase from a pipe"
    os.close(read_fd)
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "commarchive-passphrase").write_text("systemd credential pass\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    assert read_passphrase("credential:") == b"systemd credential pass"
    monkeypatch.setenv("COMMARCHIVE_PASSPHRASE", "from the environment")
    with pytest.raises(MasterKeyError, match="development mode"):
        read_passphrase("env")
    assert read_passphrase("env", allow_env=True) == b"from the environment"
    monkeypatch.setenv("COMMARCHIVE_PASSPHRASE", "short")
    with pytest.raises(MasterKeyError, match="at least 12"):
        read_passphrase("env", allow_env=True)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(MasterKeyError, match="CREDENTIALS_DIRECTORY"):
        read_passphrase("credential:x")
