"""The master key derived with scrypt from a passphrase.

The passphrase comes from a terminal prompt, a file descriptor (``fd:N``) or a
systemd credential (``credential:NAME`` under ``$CREDENTIALS_DIRECTORY``); a
plain environment variable is accepted only when the caller says development
mode allows it, because the environment leaks (``/proc``, crash reports, child
processes). The salt is stored beside the wrapped key in the keyring's header.
"""

from __future__ import annotations

import base64
import getpass
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from keys.errors import MasterKeyError
from keys.providers import KEY_SIZE_BYTES, aead_unwrap, aead_wrap

KIND: Final = "passphrase"
SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_BYTES: Final = 16
MIN_PASSPHRASE_CHARS: Final = 12
PASSPHRASE_ENV: Final = "COMMARCHIVE_PASSPHRASE"
CREDENTIAL_NAME: Final = "commarchive-passphrase"


def read_passphrase(source: str, *, allow_env: bool = False, confirm: bool = False) -> bytes:
    """The passphrase from ``prompt``, ``fd:N``, ``credential:NAME`` or (development
    only) ``env`` (``COMMARCHIVE_PASSPHRASE``)."""
    kind, _, arg = source.partition(":")
    if kind == "fd":
        try:
            fd = int(arg)
        except ValueError:
            raise MasterKeyError(f"passphrase source {source!r}: fd:N needs a number") from None
        chunks: list[bytes] = []
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
        text = b"".join(chunks).decode().rstrip("\r\n")
    elif kind == "credential":
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise MasterKeyError("passphrase source credential: $CREDENTIALS_DIRECTORY is not "
                                 "set (run under systemd with LoadCredential=)")
        path = Path(directory) / (arg or CREDENTIAL_NAME)
        try:
            text = path.read_text().rstrip("\r\n")
        except OSError as exc:
            raise MasterKeyError(f"cannot read the passphrase credential {path}: "
                                 f"{exc.strerror}") from None
    elif kind == "env":
        if not allow_env:
            raise MasterKeyError(
                f"the passphrase is not read from {PASSPHRASE_ENV} outside development mode; "
                "use prompt, fd:N or credential:NAME (or set COMMARCHIVE_DEV_KEYS_FROM_ENV)")
        text = os.environ.get(PASSPHRASE_ENV, "")
    elif kind == "prompt":
        if not sys.stdin.isatty():
            raise MasterKeyError("no terminal to prompt for the passphrase; "
                                 "use fd:N or credential:NAME")
        text = getpass.getpass("commarchive passphrase: ")
        if confirm and getpass.getpass("again: ") != text:
            raise MasterKeyError("the passphrases do not match")
    else:
        raise MasterKeyError(f"unknown passphrase source {source!r} "
                             "(prompt, fd:N, credential:NAME, env)")
    if len(text) < MIN_PASSPHRASE_CHARS:
        raise MasterKeyError(f"the passphrase must have at least {MIN_PASSPHRASE_CHARS} "
                             "characters")
    return text.encode()


def derive(passphrase: bytes, salt: bytes, n: int = SCRYPT_N) -> bytes:
    return Scrypt(salt=salt, length=KEY_SIZE_BYTES, n=n, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase)


class PassphraseKeyProvider:
    """A fresh salt per wrap; derived keys cached per salt (scrypt is slow on purpose)."""

    kind = KIND

    def __init__(self, passphrase: bytes, *, n: int = SCRYPT_N) -> None:
        self._passphrase = passphrase
        self._n = n
        self._derived: dict[tuple[bytes, int], bytes] = {}

    def _master(self, salt: bytes, n: int) -> bytes:
        if (salt, n) not in self._derived:
            self._derived[(salt, n)] = derive(self._passphrase, salt, n)
        return self._derived[(salt, n)]

    def describe(self) -> str:
        return "this passphrase"

    def wrap(self, key: bytes, context: str) -> dict[str, str]:
        salt = secrets.token_bytes(SALT_BYTES)
        entry = aead_wrap(self.kind, self._master(salt, self._n), key, context)
        return {**entry, "salt": base64.b64encode(salt).decode(), "scrypt_n": str(self._n)}

    def unwrap(self, entry: Mapping[str, str], context: str) -> bytes:
        if entry.get("kind") != KIND:
            raise MasterKeyError(f"the keyring does not open with {self.describe()}")
        master = self._master(base64.b64decode(entry["salt"]), int(entry["scrypt_n"]))
        return aead_unwrap(master, entry, context, self.describe())

    def close(self) -> None:
        self._derived.clear()
