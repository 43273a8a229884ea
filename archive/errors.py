"""Exceptions of the archive package.

Every error the archive raises derives from ``ArchiveError`` and carries an
``ErrorCode`` (the HTTP API's ``error.code``), so callers catch the root, not a
tuple. Third-party errors (SQLAlchemy, minio, elasticsearch, OSError) are
converted where they enter: the seams raise ``StoreError`` and
``SearchIndexError``, the rooms turn what a sender may retry into
``TemporaryFailure``.

Exceptions::

    ArchiveError
     ├── TemporaryFailure       anything retryable before durability (store/catalog down,
     │                          disk full, lock timeout): ingesters answer 451 / 503
     ├── ItemNotFound           (``gone`` when it was erased: 410)
     ├── AccessDenied           carries an ErrorCode (wrong_role, purpose_not_held, ...)
     ├── ContentIntegrityError  sealed content failed authentication (names the item)
     ├── InvalidRequest         caller error with a code and message
     │    └── RangeNotSatisfiable  a byte range past the end of the content (HTTP 416)
     ├── ConfigError            archive configuration invalid
     ├── StoreError             the object-store seam (archive.store)
     │    ├── StoreUnavailable  backend down / unreachable / out of space: retry later
     │    ├── BlobNotFound      no object under that key
     │    └── BlobLocked        object under a legal hold / WORM lock: refuses deletion
     └── SearchIndexError       the search-index seam (archive.index)
          └── IndexUnavailable  backend down or not ready
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable, machine-readable error codes (also the HTTP API's ``error.code``)."""

    UNAUTHENTICATED = "unauthenticated"
    TOKEN_UNKNOWN = "token_unknown"
    TOKEN_EXPIRED = "token_expired"
    WRONG_ROLE = "wrong_role"
    PURPOSE_NOT_HELD = "purpose_not_held"
    PURPOSE_NOT_CARRIED = "purpose_not_carried"
    RESTRICTED = "restricted"
    NOT_FOUND = "not_found"
    GONE = "gone"
    INTEGRITY = "integrity_error"
    LEGAL_HOLD = "legal_hold"
    LEGAL_OBLIGATION = "legal_obligation"
    INVALID = "invalid_request"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "temporarily_unavailable"
    CONFLICT = "conflict"
    OBJECTED = "objected"
    CROSS_SITE = "cross_site_request"
    OWN_PROPOSAL = "own_proposal"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVAL_CLOSED = "approval_closed"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"


class ArchiveError(Exception):
    code: ErrorCode = ErrorCode.INVALID


class TemporaryFailure(ArchiveError):
    code = ErrorCode.UNAVAILABLE

    def __init__(self, what: str, *, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what} failed temporarily: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:  # crosses process boundaries (ingest workers)
        return (_rebuild_temporary, (self.what, self.reason))


class ItemNotFound(ArchiveError):
    code = ErrorCode.NOT_FOUND

    def __init__(self, item_id: str, *, gone: bool = False) -> None:
        self.item_id = item_id
        self.gone = gone
        if gone:
            self.code = ErrorCode.GONE
        super().__init__(f"item {item_id} {'was erased' if gone else 'does not exist'}")


class AccessDenied(ArchiveError):
    def __init__(self, code: ErrorCode, message: str, *, item_id: str | None = None) -> None:
        self.code = code
        self.item_id = item_id
        super().__init__(message)


class ContentIntegrityError(ArchiveError):
    code = ErrorCode.INTEGRITY

    def __init__(self, item_id: str, *, part: str, reason: str) -> None:
        self.item_id = item_id
        self.part = part
        self.reason = reason
        super().__init__(f"item {item_id} part {part!r} failed its integrity check: {reason}")


class InvalidRequest(ArchiveError):
    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.INVALID) -> None:
        self.code = code
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_invalid, (str(self), self.code))


class RangeNotSatisfiable(InvalidRequest):
    """A byte range of an item's content that starts beyond its ``size`` bytes."""

    def __init__(self, item_id: str, *, size: int) -> None:
        self.item_id = item_id
        self.size = size
        super().__init__(f"item {item_id}: the range starts beyond its {size} bytes",
                         code=ErrorCode.RANGE_NOT_SATISFIABLE)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_range, (self.item_id, self.size))


def _rebuild_range(item_id: str, size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(item_id, size=size)


class ConfigError(ArchiveError):
    pass


class StoreError(ArchiveError):
    code = ErrorCode.UNAVAILABLE


class StoreUnavailable(StoreError):
    def __init__(self, key: str, *, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"object store unavailable for {key}: {reason}")


class BlobNotFound(StoreError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no blob {key}")


class BlobLocked(StoreError):
    code = ErrorCode.LEGAL_HOLD

    def __init__(self, key: str, *, reason: str = "legal_hold") -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"blob {key} is locked ({reason})")


class SearchIndexError(ArchiveError):
    code = ErrorCode.UNAVAILABLE


class IndexUnavailable(SearchIndexError):
    def __init__(self, *, reason: str) -> None:
        self.reason = reason
        super().__init__(f"search index unavailable: {reason}")


def _rebuild_temporary(what: str, reason: str) -> TemporaryFailure:
    return TemporaryFailure(what, reason=reason)


def _rebuild_invalid(message: str, code: ErrorCode) -> InvalidRequest:
    return InvalidRequest(message, code=code)
