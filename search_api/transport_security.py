"""HTTP Strict Transport Security for the API and UI when they are served over HTTPS.

``commarchive serve`` adds :class:`StrictTransportSecurity` when its HTTPS
listener is on: every response that went out over TLS tells the browser to
use HTTPS only for ``max_age_s``, so a later ``http://`` link or a downgrade on
the path cannot expose a reviewer's session. Responses over plain HTTP never
carry it (RFC 6797 section 7.2: a browser ignores it there, and a plain
listener kept beside HTTPS for health probes must stay reachable).
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_HSTS_SECONDS", "StrictTransportSecurity"]

#: One year, what browsers' preload lists ask for.
DEFAULT_HSTS_SECONDS: Final = 31_536_000


class StrictTransportSecurity:
    """Adds ``Strict-Transport-Security`` to every response sent over HTTPS."""

    def __init__(self, app: ASGIApp, *, max_age_s: int = DEFAULT_HSTS_SECONDS) -> None:
        self.app = app
        self.header = (b"strict-transport-security", f"max-age={max_age_s}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_header)
