"""The master key inside a PKCS#11 token (an HSM; SoftHSM2 in tests).

The key is generated in the token as sensitive and non-extractable: it never
leaves it. It only wraps and unwraps the keyring key, with AES key wrap
(RFC 3394) performed by the token; the unwrapped keyring key is read back as a
session object that disappears with the session.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PKCS11Error, UserAlreadyLoggedIn

from keys.errors import MasterKeyError

KIND: Final = "pkcs11"
KEY_BITS: Final = 256
_SESSION_KEY: Final = {Attribute.TOKEN: False, Attribute.EXTRACTABLE: True,
                       Attribute.SENSITIVE: False}


class Pkcs11KeyProvider:
    """One AES key, by label, in one token; one read-write session while open.

    The PKCS#11 module is initialised once per process (its configuration, e.g.
    ``SOFTHSM2_CONF``, is read then), so every provider in a process shares it.
    """

    kind = KIND

    def __init__(self, module: Path, *, token_label: str, pin: str, key_label: str) -> None:
        self.module = module
        self.token_label = token_label
        self.key_label = key_label
        try:
            token = pkcs11.lib(str(module)).get_token(token_label=token_label)
            try:
                self._session: Any = token.open(user_pin=pin, rw=True)
            except UserAlreadyLoggedIn:
                # Login is per process and token: another provider here logged in.
                self._session = token.open(rw=True)
        except (PKCS11Error, RuntimeError, OSError) as exc:
            raise MasterKeyError(f"cannot open PKCS#11 token {token_label!r} "
                                 f"with {module}: {type(exc).__name__} {exc}") from None

    def _key(self) -> Any:
        found = list(self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                                Attribute.LABEL: self.key_label}))
        if not found:
            raise MasterKeyError(f"no key {self.key_label!r} in PKCS#11 token "
                                 f"{self.token_label!r}")
        return found[0]

    def create_key(self) -> None:
        """Generate the master key in the token (refuses when the label is taken)."""
        if list(self._session.get_objects({Attribute.LABEL: self.key_label})):
            raise MasterKeyError(f"PKCS#11 token {self.token_label!r} already holds a key "
                                 f"{self.key_label!r}")
        self._session.generate_key(
            KeyType.AES, KEY_BITS, label=self.key_label, store=True,
            template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                      Attribute.WRAP: True, Attribute.UNWRAP: True,
                      Attribute.ENCRYPT: False, Attribute.DECRYPT: False})

    def describe(self) -> str:
        return f"HSM key {self.key_label!r} in PKCS#11 token {self.token_label!r}"

    def wrap(self, key: bytes, context: str) -> dict[str, str]:
        try:
            plain = self._session.create_object({
                Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
                Attribute.VALUE: key, **_SESSION_KEY})
            try:
                wrapped = bytes(self._key().wrap_key(plain, mechanism=Mechanism.AES_KEY_WRAP))
            finally:
                plain.destroy()
        except PKCS11Error as exc:
            raise MasterKeyError(f"{self.describe()} could not wrap: "
                                 f"{type(exc).__name__}") from None
        return {"kind": KIND, "token": self.token_label, "key_label": self.key_label,
                "context": context, "wrapped": base64.b64encode(wrapped).decode()}

    def unwrap(self, entry: Mapping[str, str], context: str) -> bytes:
        if (entry.get("kind") != KIND or entry.get("key_label") != self.key_label
                or entry.get("context") != context):
            raise MasterKeyError(f"the keyring does not open with {self.describe()}")
        try:
            plain = self._key().unwrap_key(
                ObjectClass.SECRET_KEY, KeyType.AES, base64.b64decode(entry["wrapped"]),
                mechanism=Mechanism.AES_KEY_WRAP, template=dict(_SESSION_KEY))
            try:
                return bytes(plain[Attribute.VALUE])
            finally:
                plain.destroy()
        except PKCS11Error:
            raise MasterKeyError(f"the keyring does not open with {self.describe()}") from None

    def close(self) -> None:
        with contextlib.suppress(PKCS11Error):
            self._session.close()
