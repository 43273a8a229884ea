"""Short-lived browser sessions, so the web UI never keeps a bearer token in page storage.

After a sign-in with a token, the browser holds only a random session id in an
``HttpOnly``, ``SameSite=Strict`` cookie that scripts cannot read. The session
lives in the catalog (:mod:`archive.sessions`: the id and the token hashed,
never in the clear), so every ``serve`` node behind a load balancer accepts
it and a restart keeps it; the token's user is checked again on every
request, so revoking the user or the token's expiry ends the session too.
Sessions end after :data:`SESSION_SECONDS` and on sign-out.

Cross-site request forgery: ``SameSite=Strict`` keeps the cookie off requests
started by other sites, and a state-changing request that authenticates with
the cookie must also carry :data:`CSRF_HEADER` (a custom header no plain form
or cross-origin fetch without CORS can send) and, when the browser sends an
``Origin``, this server's own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import Request

from archive.errors import AccessDenied, ErrorCode
from archive.sessions import SessionStore
from archive.users import User

SESSION_COOKIE: Final = "commarchive_session"
#: A working day; then the reviewer signs in with the token again.
SESSION_SECONDS: Final = 8 * 3600
CSRF_HEADER: Final = "X-Commarchive-Request"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class Sessions:
    """Browser sessions of this app, kept in the catalog (:mod:`archive.sessions`)."""

    def __init__(self, store: SessionStore,
                 lifetime: timedelta = timedelta(seconds=SESSION_SECONDS)) -> None:
        self._store = store
        self._lifetime = lifetime

    def open(self, token: str, *, token_expires_at: datetime | None = None,
             now: datetime | None = None) -> tuple[str, datetime]:
        """A new session for ``token``: its id (for the cookie) and when it ends."""
        now = now or datetime.now(UTC)
        expires_at = now + self._lifetime
        if token_expires_at is not None:
            expires_at = min(expires_at, token_expires_at)
        return self._store.open(token, expires_at, now=now), expires_at

    def user(self, session_id: str, *, now: datetime | None = None) -> User:
        """The user behind a live session; an unknown or ended one is refused."""
        return self._store.user(session_id, now=now)

    def close(self, session_id: str) -> None:
        self._store.close(session_id)


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
