"""The master key in a 0600 key file that lives outside the data directory."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from keys.errors import MasterKeyError
from keys.providers import KEY_SIZE_BYTES, aead_unwrap, aead_wrap, refuse_inside

KIND: Final = "file"
_PLACEHOLDERS: Final = frozenset({"changeme", "change-me", "secret", "test", "password", "xxx"})


def decode_key(text: str, where: str) -> bytes:
    """A 32-byte key written as base64 or 64 hex digits; placeholders are refused."""
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
    raise MasterKeyError(f"master key from {where} must be 32 bytes as base64 or 64 hex digits")


def read_key_file(path: Path) -> bytes:
    """The key in a 0600 file; a file others can read is refused, not trusted."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MasterKeyError(f"master key file {path} does not exist") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MasterKeyError(f"master key file {path} is accessible by group or others; "
                             "chmod 600 it")
    return decode_key(path.read_text(), str(path))


def write_key_file(path: Path) -> bytes:
    """A new random key in a new 0600 file (its directory made 0700 if missing);
    refuses to overwrite an existing file."""
    key = secrets.token_bytes(KEY_SIZE_BYTES)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MasterKeyError(f"master key file {path} already exists; a new key gets a "
                             "new file (choose another path)") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.urlsafe_b64encode(key).decode() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


class FileKeyProvider:
    """Reads the key once; refuses a file inside ``data_dir`` or open to others."""

    kind = KIND

    def __init__(self, path: Path, *, data_dir: Path | None = None) -> None:
        refuse_inside(path, data_dir, "master key file")
        self.path = path
        self._master = read_key_file(path)

    @classmethod
    def create(cls, path: Path, *, data_dir: Path | None = None) -> FileKeyProvider:
        refuse_inside(path, data_dir, "master key file")
        write_key_file(path)
        return cls(path, data_dir=data_dir)

    def describe(self) -> str:
        return f"the master key file {self.path}"

    def wrap(self, key: bytes, context: str) -> dict[str, str]:
        return aead_wrap(self.kind, self._master, key, context)

    def unwrap(self, entry: Mapping[str, str], context: str) -> bytes:
        return aead_unwrap(self._master, entry, context, self.describe())

    def close(self) -> None:
        return None
