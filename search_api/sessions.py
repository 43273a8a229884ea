"""Short-lived browser sessions, so the web UI never keeps a bearer token in page storage.

After a sign-in with a token, the browser holds only a random session id in an
``HttpOnly``, ``SameSite=Strict`` cookie that scripts cannot read. The token
it stands for stays in this process's memory (never on disk) and is checked
again on every request, so revoking the user or the token's expiry ends the
session too. Sessions end after :data:`SESSION_SECONDS`, on sign-out, and when
the server restarts (each ``serve`` node keeps its own; the API's bearer tokens
are unaffected).

Cross-site request forgery: ``SameSite=Strict`` keeps the cookie off requests
started by other sites, and a state-changing request that authenticates with
the cookie must also carry :data:`CSRF_HEADER` (a custom header no plain form
or cross-origin fetch without CORS can send) and, when the browser sends an
``Origin``, this server's own.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import Request

from archive.errors import AccessDenied, ErrorCode

SESSION_COOKIE: Final = "commarchive_session"
#: A working day; then the reviewer signs in with the token again.
SESSION_SECONDS: Final = 8 * 3600
CSRF_HEADER: Final = "X-Commarchive-Request"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class _Session:
    token: str
    expires_at: datetime


class Sessions:
    """Session ids (kept hashed) to the bearer token each stands for, with an expiry."""

    def __init__(self, lifetime: timedelta = timedelta(seconds=SESSION_SECONDS)) -> None:
        self._lifetime = lifetime
        self._by_hash: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def open(self, token: str, *, token_expires_at: datetime | None = None,
             now: datetime | None = None) -> tuple[str, datetime]:
        """A new session for ``token``: its id (for the cookie) and when it ends."""
        now = now or datetime.now(UTC)
        expires_at = now + self._lifetime
        if token_expires_at is not None:
            expires_at = min(expires_at, token_expires_at)
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._by_hash = {h: s for h, s in self._by_hash.items() if s.expires_at > now}
            self._by_hash[_hash(session_id)] = _Session(token, expires_at)
        return session_id, expires_at

    def token(self, session_id: str, *, now: datetime | None = None) -> str:
        """The token behind a live session; an unknown or ended one is refused."""
        with self._lock:
            session = self._by_hash.get(_hash(session_id))
            if session is not None and session.expires_at <= (now or datetime.now(UTC)):
                del self._by_hash[_hash(session_id)]
                session = None
        if session is None:
            raise AccessDenied(ErrorCode.TOKEN_EXPIRED,
                               "the session has ended; sign in with your token again")
        return session.token

    def close(self, session_id: str) -> None:
        with self._lock:
            self._by_hash.pop(_hash(session_id), None)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def check_same_site(request: Request) -> None:
    """Refuse a state-changing cookie request that another site could have started."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise AccessDenied(ErrorCode.CROSS_SITE,
                           f"request from {origin} refused: not this server's own page")
    if request.headers.get(CSRF_HEADER) != "1":
        raise AccessDenied(ErrorCode.CROSS_SITE,
                           f"a request signed in by cookie must send the {CSRF_HEADER} header")
