"""Exceptions of the keys package (tree in ``keys/__init__.py``)."""

from __future__ import annotations


class KeysError(Exception):
    """Base of every error raised by the keys package."""


class MasterKeyError(KeysError):
    """The master key is missing, malformed, or its file is readable by others."""


class UnknownKey(KeysError):
    def __init__(self, purpose: str, version: int | None = None, *,
                 retired: bool = False) -> None:
        self.purpose = purpose
        self.version = version
        self.retired = retired
        at = f" version {version}" if version is not None else ""
        if retired:
            super().__init__(f"key-encryption key {purpose!r}{at} was retired; "
                             "what it wrapped can no longer be read")
        else:
            super().__init__(f"no key-encryption key for purpose {purpose!r}{at}")


class UnwrapError(KeysError):
    def __init__(self, context: str) -> None:
        self.context = context
        super().__init__(f"wrapped data key does not authenticate ({context})")


class IntegrityError(KeysError):
    """Sealed content failed authentication: tampered, truncated or reordered."""

    def __init__(self, context: str, *, reason: str, chunk: int | None = None) -> None:
        self.context = context
        self.reason = reason
        self.chunk = chunk
        where = f" at chunk {chunk}" if chunk is not None else ""
        super().__init__(f"integrity check failed for {context}{where}: {reason}")
