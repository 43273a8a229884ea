"""The keyring: per-purpose, versioned KEKs in one file sealed by a keyring key.

The keyring key is random and lives only wrapped, in the file's header, once
per active master key (``keys.providers``: a key file, a passphrase, an HSM).
Rotating the master key seals the keyring under a fresh keyring key wrapped
under both the old and the new master key; retiring the old one seals it again
under a key only the new master wraps, so the old master opens nothing that is
written afterwards. The file also holds the archive's own secrets (the audit
MAC key, the dedupe key): random, never derivable from what lies beside them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.errors import MasterKeyError, UnknownKey, UnwrapError
from keys.providers import KEY_SIZE_BYTES, KeyProvider
from keys.providers.memory import MemoryKeyProvider
from keys.ringstore import KeyringStorage
from keys.ringstore.file import FileKeyringStorage

_MAGIC_V1: Final = b"CMKR1"
_MAGIC_V2: Final = b"CMKR2\n"
_AAD_V1: Final = b"commarchive keyring v1"
#: The archive's own secrets, created with the keyring.
SECRET_LABELS: Final = ("audit", "dedupe")


def new_dek() -> bytes:
    return secrets.token_bytes(KEY_SIZE_BYTES)


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """An item's DEK wrapped under one version of one purpose's KEK."""

    purpose: str
    version: int
    blob: bytes


@dataclass(frozen=True, slots=True)
class MasterVersion:
    """One master key that can open the keyring (its wrapped bytes left out)."""

    version: int
    kind: str
    current: bool
    detail: dict[str, str]


def _wrap_aad(context: str, purpose: str, version: int) -> bytes:
    return f"dek|{context}|{purpose}|{version}".encode()


def _body_aad(archive_id: str) -> bytes:
    return f"commarchive keyring v2|{archive_id}".encode()


def _master_context(archive_id: str, version: int) -> str:
    return f"{archive_id}|master-v{version}"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _split(raw: bytes, where: str) -> tuple[bytes, bytes]:
    if raw.startswith(_MAGIC_V1):
        raise MasterKeyError(
            f"keyring {where} is in the old format, sealed directly by a master key that "
            "lived in the data directory; move that key out with `commarchive keys "
            "move-master` (README, Keys and backups)")
    if not raw.startswith(_MAGIC_V2):
        raise MasterKeyError(f"{where} is not a commarchive keyring")
    header, sep, body = raw[len(_MAGIC_V2):].partition(b"\n")
    if not sep:
        raise MasterKeyError(f"keyring {where} is truncated")
    return header, body


def as_storage(where: Path | KeyringStorage) -> KeyringStorage:
    """A path is the keyring file (the embedded default)."""
    return FileKeyringStorage(where) if isinstance(where, Path) else where


def archive_id_of(where: Path | KeyringStorage) -> str:
    """The archive id in a keyring's (public) header: names its key file and anchor."""
    storage = as_storage(where)
    header, _ = _split(storage.load()[0], storage.describe())
    return str(json.loads(header)["archive_id"])


def _as_provider(master: KeyProvider | bytes) -> KeyProvider:
    return MemoryKeyProvider(master) if isinstance(master, bytes) else master


class Keyring:
    """Per-purpose KEKs, versioned, sealed by a keyring key, in a storage
    (``keys.ringstore``: a file by default, or the shared catalog).

    The keyring is re-read when another process or node (``commarchive keys
    rotate``, ``rotate-master``) changed it, and changed under the storage's
    exclusive lock, so running servers and the CLI agree on the current versions.
    """

    def __init__(self, where: Path | KeyringStorage, master: KeyProvider | bytes) -> None:
        self._storage = as_storage(where)
        self._provider = _as_provider(master)
        self._lock = threading.RLock()
        self._header: dict[str, Any] = {}
        self._header_raw = b""
        self._krk = b""
        self._opened_version = 0
        self._data: dict[str, dict[str, Any]] = {}
        self._secrets: dict[str, str] = {}
        self._stamp: object | None = None
        self._reload(force=True)

    @classmethod
    def create(cls, where: Path | KeyringStorage, master: KeyProvider | bytes, *,
               archive_id: str | None = None,
               initial_secrets: Mapping[str, bytes] | None = None) -> Keyring:
        """A new keyring whose keyring key is wrapped under ``master`` (version 1)."""
        storage = as_storage(where)
        if storage.stamp() is not None:
            raise FileExistsError(f"keyring {storage.describe()} already exists")
        provider = _as_provider(master)
        archive_id = archive_id or uuid.uuid4().hex
        krk = new_dek()
        entry = {**provider.wrap(krk, _master_context(archive_id, 1)), "version": "1"}
        ring = cls.__new__(cls)
        ring._storage = storage
        ring._provider = provider
        ring._lock = threading.RLock()
        ring._header = {"archive_id": archive_id, "current_master": 1, "masters": [entry]}
        ring._krk = krk
        ring._opened_version = 1
        ring._data = {}
        given = dict(initial_secrets or {})
        ring._secrets = {label: _b64(given.get(label) or new_dek()) for label in SECRET_LABELS}
        ring._header_raw = b""
        ring._stamp = None
        ring._save()
        return ring

    @classmethod
    def upgrade(cls, path: Path, old_master: bytes, master: KeyProvider, *,
                archive_id: str | None = None) -> Keyring:
        """Rewrite an old-format keyring (sealed directly by ``old_master``) under a
        keyring key wrapped by ``master``. The audit and dedupe secrets keep the
        values the old format derived, so the audit chain and tombstones stay valid."""
        raw = path.read_bytes()
        if not raw.startswith(_MAGIC_V1):
            raise MasterKeyError(f"{path} is not an old-format keyring")
        body = raw[len(_MAGIC_V1):]
        try:
            plain = AESGCM(old_master).decrypt(body[:12], body[12:], _AAD_V1)
        except InvalidTag:
            raise MasterKeyError(f"keyring {path} does not open with the old master key") from None
        kept = {label: _hkdf(old_master, label) for label in SECRET_LABELS}
        backup = path.with_name(path.name + ".v1")
        path.replace(backup)
        try:
            ring = cls.create(path, master, archive_id=archive_id, initial_secrets=kept)
        except BaseException:
            backup.replace(path)
            raise
        with ring._mutating():
            ring._data = json.loads(plain)
        backup.unlink()
        return ring

    # -- persistence -------------------------------------------------------

    def _open_krk(self, header: dict[str, Any]) -> tuple[bytes, int]:
        archive_id = str(header["archive_id"])
        entries = sorted(header["masters"], key=lambda e: e["version"] != str(
            header["current_master"]))
        for entry in entries:
            version = int(entry["version"])
            with contextlib.suppress(MasterKeyError):
                return self._provider.unwrap(entry, _master_context(archive_id, version)), version
        raise MasterKeyError(
            f"keyring {self._storage.describe()} does not open with "
            f"{self._provider.describe()} (not this archive's master key, or one that was "
            "retired)")

    def _reload(self, *, force: bool = False) -> None:
        if not force and self._stamp is not None and self._storage.stamp() == self._stamp:
            return
        raw, stamp = self._storage.load()
        header_raw, body = _split(raw, self._storage.describe())
        header = json.loads(header_raw)
        if header_raw != self._header_raw:
            self._krk, self._opened_version = self._open_krk(header)
        try:
            plain = AESGCM(self._krk).decrypt(body[:12], body[12:],
                                              _body_aad(str(header["archive_id"])))
        except InvalidTag:
            raise MasterKeyError(f"keyring {self._storage.describe()} was altered") from None
        content = json.loads(plain)
        self._header, self._header_raw = header, header_raw
        self._data = content["purposes"]
        self._secrets = content["secrets"]
        self._stamp = stamp

    def _save(self) -> None:
        header_raw = json.dumps(self._header, sort_keys=True).encode()
        plain = json.dumps({"purposes": self._data, "secrets": self._secrets},
                           sort_keys=True).encode()
        nonce = secrets.token_bytes(12)
        sealed = (_MAGIC_V2 + header_raw + b"\n" + nonce
                  + AESGCM(self._krk).encrypt(nonce, plain,
                                              _body_aad(str(self._header["archive_id"]))))
        self._stamp = self._storage.save(sealed)
        self._header_raw = header_raw

    @contextlib.contextmanager
    def _mutating(self) -> Iterator[None]:
        with self._lock, self._storage.locked():
            self._reload(force=True)
            yield
            self._save()

    # -- master keys -------------------------------------------------------------

    @property
    def archive_id(self) -> str:
        with self._lock:
            self._reload()
            return str(self._header["archive_id"])

    def masters(self) -> list[MasterVersion]:
        with self._lock:
            self._reload()
            current = int(self._header["current_master"])
            return [MasterVersion(int(e["version"]), str(e["kind"]),
                                  int(e["version"]) == current,
                                  {k: str(v) for k, v in e.items()
                                   if k not in ("wrapped", "version", "kind")})
                    for e in self._header["masters"]]

    def add_master(self, provider: KeyProvider) -> int:
        """Make ``provider``'s key the current master; the old one still opens the
        keyring (so running servers keep working) until it is retired."""
        with self._mutating():
            masters = self._header["masters"]
            if len(masters) > 1:
                old = [e["version"] for e in masters
                       if e["version"] != str(self._header["current_master"])]
                raise MasterKeyError(f"retire master key version {', '.join(old)} first "
                                     "(`commarchive keys retire-master`)")
            archive_id = str(self._header["archive_id"])
            version = int(masters[0]["version"]) + 1
            krk = new_dek()
            kept = {**self._provider.wrap(krk, _master_context(archive_id, self._opened_version)),
                    "version": str(self._opened_version)}
            added = {**provider.wrap(krk, _master_context(archive_id, version)),
                     "version": str(version)}
            self._header["masters"] = [kept, added]
            self._header["current_master"] = version
            self._krk = krk
            return version

    def retire_master(self, version: int) -> None:
        """Seal the keyring under a fresh keyring key wrapped only by the current
        master, so the retired master opens nothing written from now on."""
        with self._mutating():
            current = int(self._header["current_master"])
            if version == current:
                raise MasterKeyError("cannot retire the current master key; rotate first")
            if version not in {int(e["version"]) for e in self._header["masters"]}:
                raise MasterKeyError(f"no active master key version {version}")
            if self._opened_version != current:
                raise MasterKeyError("open the keyring with the current master key "
                                     f"(version {current}) to retire version {version}")
            krk = new_dek()
            entry = {**self._provider.wrap(
                krk, _master_context(str(self._header["archive_id"]), current)),
                "version": str(current)}
            self._header["masters"] = [entry]
            self._krk = krk

    # -- KEKs ---------------------------------------------------------------

    def purposes(self) -> list[str]:
        with self._lock:
            self._reload()
            return sorted(self._data)

    def versions(self, purpose: str) -> list[int]:
        with self._lock:
            self._reload()
            entry = self._data.get(purpose)
            if entry is None:
                return []
            return sorted(int(v) for v in entry["versions"])

    def retired_versions(self, purpose: str) -> list[int]:
        with self._lock:
            self._reload()
            entry = self._data.get(purpose)
            return sorted(int(v) for v in entry.get("retired", [])) if entry else []

    def current_version(self, purpose: str) -> int:
        with self._lock:
            self._reload()
            entry = self._data.get(purpose)
            if entry is None:
                raise UnknownKey(purpose)
            return int(entry["current"])

    def ensure_purpose(self, purpose: str) -> int:
        """Create the purpose's first KEK if it has none; return its current version."""
        with self._lock:
            self._reload()
            if purpose in self._data:
                return self.current_version(purpose)
            with self._mutating():
                if purpose not in self._data:
                    self._data[purpose] = {"current": 1, "versions": {"1": _new_kek()}}
            return self.current_version(purpose)

    def rotate(self, purpose: str) -> int:
        """Add a new KEK version and make it current; older versions stay for unwrapping."""
        with self._mutating():
            entry = self._data.get(purpose)
            if entry is None:
                raise UnknownKey(purpose)
            versions = entry["versions"]
            new = max(int(v) for v in [*versions, *entry.get("retired", [])]) + 1
            versions[str(new)] = _new_kek()
            entry["current"] = new
            return new

    def retire(self, purpose: str, version: int) -> None:
        """Destroy an old KEK version (after every DEK under it was re-wrapped); a
        later read that needs it fails naming the retired version."""
        with self._mutating():
            entry = self._data.get(purpose)
            if entry is None or str(version) not in entry["versions"]:
                raise UnknownKey(purpose, version)
            if entry["current"] == version:
                raise ValueError("cannot retire the current KEK version")
            entry["versions"].pop(str(version))
            entry["retired"] = sorted({*entry.get("retired", []), version})

    def _kek(self, purpose: str, version: int) -> AESGCM:
        with self._lock:
            self._reload()
            entry = self._data.get(purpose)
            encoded = entry["versions"].get(str(version)) if entry else None
            if not isinstance(encoded, str):
                retired = entry is not None and version in entry.get("retired", [])
                raise UnknownKey(purpose, version, retired=retired)
            return AESGCM(base64.b64decode(encoded))

    # -- DEKs ----------------------------------------------------------------

    def wrap(self, dek: bytes, purpose: str, context: str) -> WrappedKey:
        version = self.ensure_purpose(purpose)
        nonce = secrets.token_bytes(12)
        blob = nonce + self._kek(purpose, version).encrypt(
            nonce, dek, _wrap_aad(context, purpose, version)
        )
        return WrappedKey(purpose, version, blob)

    def unwrap(self, wrapped: WrappedKey, context: str) -> bytes:
        kek = self._kek(wrapped.purpose, wrapped.version)
        try:
            return kek.decrypt(
                wrapped.blob[:12],
                wrapped.blob[12:],
                _wrap_aad(context, wrapped.purpose, wrapped.version),
            )
        except InvalidTag:
            raise UnwrapError(f"{context} / {wrapped.purpose} v{wrapped.version}") from None

    def rewrap(self, wrapped: WrappedKey, context: str) -> WrappedKey:
        """Re-wrap a DEK under the purpose's current KEK; the content is untouched."""
        return self.wrap(self.unwrap(wrapped, context), wrapped.purpose, context)

    def secret(self, label: str) -> bytes:
        """One of the archive's own secrets (``SECRET_LABELS``): the audit MAC key,
        the dedupe key. Random, kept sealed in the keyring, unchanged by rotations."""
        with self._lock:
            self._reload()
            if label not in self._secrets:
                raise UnknownKey(f"secret:{label}")
            return base64.b64decode(self._secrets[label])

    def close(self) -> None:
        self._provider.close()


def _hkdf(master: bytes, label: str) -> bytes:
    """How the old format derived its secrets from the master key (kept for upgrades)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE_BYTES, salt=None,
                info=f"commarchive/{label}".encode()).derive(master)


def _new_kek() -> str:
    return _b64(secrets.token_bytes(KEY_SIZE_BYTES))
