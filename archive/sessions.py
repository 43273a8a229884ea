"""Browser sessions in the catalog, so every ``serve`` node accepts a cookie another issued.

A session row holds the SHA-256 of the session id (the cookie's value) and the
hash of the bearer token it stands for, never either in the clear: a copy of
the catalog lets nobody sign in. Each request resolves the row to the token's
user again (:meth:`archive.users.Users.authenticate_hash`), so revoking the
user or the token's expiry ends the session at once on every node.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa

from archive.catalog import Catalog, UTCDateTime, metadata
from archive.errors import AccessDenied, ErrorCode
from archive.users import User, Users, hash_token

browser_sessions = sa.Table(
    "browser_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Open, resolve and end browser sessions; expired rows are dropped as new ones open."""

    def __init__(self, catalog: Catalog, users: Users) -> None:
        self._catalog = catalog
        self._users = users

    def open(self, token: str, expires_at: datetime, *, now: datetime | None = None) -> str:
        """A new session for ``token`` until ``expires_at``; returns its id (for the cookie)."""
        now = now or datetime.now(UTC)
        session_id = secrets.token_urlsafe(32)
        with self._catalog.write() as conn:
            conn.execute(browser_sessions.delete().where(browser_sessions.c.expires_at <= now))
            conn.execute(browser_sessions.insert().values(
                id_hash=hash_session_id(session_id), token_hash=hash_token(token),
                created_at=now, expires_at=expires_at))
        return session_id

    def user(self, session_id: str, *, now: datetime | None = None) -> User:
        """The user of a live session; an unknown or ended one is refused."""
        now = now or datetime.now(UTC)
        with self._catalog.read() as conn:
            row = conn.execute(
                sa.select(browser_sessions.c.token_hash, browser_sessions.c.expires_at)
                .where(browser_sessions.c.id_hash == hash_session_id(session_id))
            ).first()
        if row is None or row.expires_at <= now:
            raise AccessDenied(ErrorCode.TOKEN_EXPIRED,
                               "the session has ended; sign in with your token again")
        return self._users.authenticate_hash(row.token_hash, now=now)

    def close(self, session_id: str) -> None:
        with self._catalog.write() as conn:
            conn.execute(browser_sessions.delete().where(
                browser_sessions.c.id_hash == hash_session_id(session_id)))
