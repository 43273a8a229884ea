"""Master key and the keyring file of per-purpose, versioned KEKs sealed by it."""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.errors import MasterKeyError, UnknownKey, UnwrapError

KEY_SIZE_BYTES: Final = 32
_KEYRING_MAGIC: Final = b"CMKR1"
_KEYRING_AAD: Final = b"commarchive keyring v1"
_PLACEHOLDERS: Final = frozenset({"changeme", "change-me", "secret", "test", "password", "xxx"})


def new_dek() -> bytes:
    return secrets.token_bytes(KEY_SIZE_BYTES)


def _decode_key(text: str, where: str) -> bytes:
    text = text.strip()
    if text.lower() in _PLACEHOLDERS:
        raise MasterKeyError(f"master key from {where} is a placeholder; generate a real one")
    candidates: list[bytes] = []
    if len(text) == 2 * KEY_SIZE_BYTES:
        with contextlib.suppress(ValueError):
            candidates.append(bytes.fromhex(text))
    for decoder in (base64.urlsafe_b64decode, base64.b64decode):
        with contextlib.suppress(binascii.Error, ValueError):
            candidates.append(decoder(text + "=" * (-len(text) % 4)))
    for key in candidates:
        if len(key) == KEY_SIZE_BYTES:
            return key
    raise MasterKeyError(
        f"master key from {where} must be 32 bytes as base64 or 64 hex digits"
    )


def load_master_key(env_value: str | None, key_file: Path | None) -> bytes:
    """The master key from the environment value, else from a 0600 key file."""
    if env_value:
        return _decode_key(env_value, "COMMARCHIVE_MASTER_KEY")
    if key_file is None:
        raise MasterKeyError("no master key: set COMMARCHIVE_MASTER_KEY or a key file")
    try:
        st = key_file.stat()
    except FileNotFoundError:
        raise MasterKeyError(f"master key file {key_file} does not exist") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MasterKeyError(
            f"master key file {key_file} is accessible by group or others; chmod 600 it"
        )
    return _decode_key(key_file.read_text(), str(key_file))


def new_master_key(key_file: Path) -> bytes:
    """Create a new random master key in a 0600 file; refuses to overwrite one."""
    key = secrets.token_bytes(KEY_SIZE_BYTES)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.urlsafe_b64encode(key).decode() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """An item's DEK wrapped under one version of one purpose's KEK."""

    purpose: str
    version: int
    blob: bytes


def _wrap_aad(context: str, purpose: str, version: int) -> bytes:
    return f"dek|{context}|{purpose}|{version}".encode()


class Keyring:
    """Per-purpose KEKs, versioned, in a file sealed by the master key.

    The file is re-read when another process (``commarchive keys rotate``)
    changed it, and changed under an exclusive lock, so a running server and
    the CLI agree on the current versions.
    """

    def __init__(self, path: Path, master_key: bytes) -> None:
        if len(master_key) != KEY_SIZE_BYTES:
            raise MasterKeyError("master key must be 32 bytes")
        self._path = path
        self._master = AESGCM(master_key)
        self._master_key = master_key
        self._lock = threading.RLock()
        self._data: dict[str, dict[str, object]] = {}
        self._mtime_ns = -1
        self._reload(force=True)

    @classmethod
    def create(cls, path: Path, master_key: bytes) -> Keyring:
        if path.exists():
            raise FileExistsError(f"keyring {path} already exists")
        ring = cls.__new__(cls)
        ring._path = path
        ring._master = AESGCM(master_key)
        ring._master_key = master_key
        ring._lock = threading.RLock()
        ring._data = {}
        ring._mtime_ns = -1
        ring._save()
        return ring

    # -- persistence -------------------------------------------------------

    def _reload(self, *, force: bool = False) -> None:
        try:
            mtime = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            raise MasterKeyError(f"keyring {self._path} does not exist") from None
        if not force and mtime == self._mtime_ns:
            return
        raw = self._path.read_bytes()
        if not raw.startswith(_KEYRING_MAGIC):
            raise MasterKeyError(f"{self._path} is not a commarchive keyring")
        body = raw[len(_KEYRING_MAGIC) :]
        try:
            plain = self._master.decrypt(body[:12], body[12:], _KEYRING_AAD)
        except InvalidTag:
            raise MasterKeyError(
                f"keyring {self._path} does not open with this master key"
            ) from None
        self._data = json.loads(plain)
        self._mtime_ns = mtime

    def _save(self) -> None:
        nonce = secrets.token_bytes(12)
        plain = json.dumps(self._data, sort_keys=True).encode()
        sealed = _KEYRING_MAGIC + nonce + self._master.encrypt(nonce, plain, _KEYRING_AAD)
        tmp = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(sealed)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self._path)
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._mtime_ns = self._path.stat().st_mtime_ns

    @contextlib.contextmanager
    def _mutating(self) -> Iterator[None]:
        lock_path = self._path.with_name(self._path.name + ".lock")
        with self._lock, lock_path.open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self._reload(force=True)
                yield
                self._save()
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

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
            versions = entry["versions"]
            assert isinstance(versions, dict)
            return sorted(int(v) for v in versions)

    def current_version(self, purpose: str) -> int:
        with self._lock:
            self._reload()
            entry = self._data.get(purpose)
            if entry is None:
                raise UnknownKey(purpose)
            current = entry["current"]
            assert isinstance(current, int)
            return current

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
            assert isinstance(versions, dict)
            new = max(int(v) for v in versions) + 1
            versions[str(new)] = _new_kek()
            entry["current"] = new
            return new

    def retire(self, purpose: str, version: int) -> None:
        """Destroy an old KEK version (after every DEK under it was re-wrapped)."""
        with self._mutating():
            entry = self._data.get(purpose)
            if entry is None:
                raise UnknownKey(purpose, version)
            if entry["current"] == version:
                raise ValueError("cannot retire the current KEK version")
            versions = entry["versions"]
            assert isinstance(versions, dict)
            versions.pop(str(version), None)

    def _kek(self, purpose: str, version: int) -> AESGCM:
        with self._lock:
            self._reload()
            entry = self._data.get(purpose)
            versions = entry["versions"] if entry else None
            assert versions is None or isinstance(versions, dict)
            encoded = versions.get(str(version)) if versions else None
            if not isinstance(encoded, str):
                raise UnknownKey(purpose, version)
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

    def derive(self, label: str) -> bytes:
        """A stable secret derived from the master key, e.g. for the audit HMAC."""
        return HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_SIZE_BYTES,
            salt=None,
            info=f"commarchive/{label}".encode(),
        ).derive(self._master_key)


def _new_kek() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_SIZE_BYTES)).decode()
