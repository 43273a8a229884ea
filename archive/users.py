"""Users and bearer tokens (stored as SHA-256 hashes, never in the clear)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import sqlalchemy as sa

from archive.catalog import Catalog, users
from archive.config import Role
from archive.errors import AccessDenied, ErrorCode, InvalidRequest

TOKEN_PREFIX: Final = "cma_"
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@\-]{0,199}$")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    expires_at: datetime | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Users:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def add(self, name: str, role: Role, *, expires_in: timedelta | None = None) -> str:
        """Create a user; returns the bearer token (shown once, stored hashed)."""
        if not _NAME_RE.match(name):
            raise InvalidRequest(f"invalid user name {name!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self._catalog.write() as conn:
            if conn.execute(sa.select(users.c.name).where(users.c.name == name)).first():
                raise InvalidRequest(f"user {name!r} already exists", code=ErrorCode.CONFLICT)
            conn.execute(
                users.insert().values(
                    name=name, role=role.value, token_hash=hash_token(token), created_at=now,
                    expires_at=now + expires_in if expires_in else None, disabled=False,
                )
            )
        return token

    def disable(self, name: str) -> None:
        with self._catalog.write() as conn:
            conn.execute(users.update().where(users.c.name == name).values(disabled=True))

    def list(self) -> list[User]:
        with self._catalog.read() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.name)).all()
        return [User(r.name, Role(r.role), r.expires_at) for r in rows if not r.disabled]

    def authenticate(self, token: str, *, now: datetime | None = None) -> User:
        if not token:
            raise AccessDenied(ErrorCode.UNAUTHENTICATED, "a bearer token is required")
        return self.authenticate_hash(hash_token(token), now=now)

    def authenticate_hash(self, token_hash: str, *, now: datetime | None = None) -> User:
        """The user of a token known only by its hash (a browser session's row)."""
        with self._catalog.read() as conn:
            row = conn.execute(
                sa.select(users).where(users.c.token_hash == token_hash)
            ).first()
        if row is None or row.disabled:
            raise AccessDenied(ErrorCode.TOKEN_UNKNOWN, "unknown or revoked token")
        if row.expires_at is not None and row.expires_at <= (now or datetime.now(UTC)):
            raise AccessDenied(ErrorCode.TOKEN_EXPIRED, "token expired")
        return User(row.name, Role(row.role), row.expires_at)
