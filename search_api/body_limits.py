"""Request bodies: the bearer token is checked before any body byte, and every body is capped.

An ASGI middleware in front of the whole app, because FastAPI reads a route's
body before it resolves the route's dependencies (the token among them): an
anonymous client could otherwise make the server read (and buffer) as much as
it cares to send before being told 401. So, for every request that carries a
body (``Content-Length`` above 0, or ``Transfer-Encoding``):

1. a missing or bad token (or browser session cookie) is answered ``401`` at
   once, the body unread (a machine known by its verified client certificate
   needs neither: :func:`search_api.deps.client_certificate_user`);
2. a declared ``Content-Length`` over the route's cap is answered ``413``;
3. bytes streamed in are counted, and past the cap the read fails with ``413``
   (a chunked body declares no length).

The cap is per route prefix (:class:`BodyLimits`): JSON bodies get
:data:`DEFAULT_MAX_BODY_BYTES`, call uploads their own larger cap. These early
answers carry ``Connection: close``, so the server stops reading the rest of
the body instead of draining it. The route still authorises the caller's role
itself; this only decides whether the body is worth reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive.errors import AccessDenied, ArchiveError, ErrorCode, TemporaryFailure
from archive.service import Archive
from search_api.deps import client_certificate_user
from search_api.errors import STATUS_BY_CODE, error_response
from search_api.sessions import SESSION_COOKIE, Sessions

__all__ = ["DEFAULT_MAX_BODY_BYTES", "BodyGuard", "BodyLimits", "BodyTooLarge"]

#: Cap of a request body on any route without its own (the JSON bodies are small).
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
_CLOSE: Final = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    """A body past its route's cap; an HTTPException so FastAPI answers it (413), not 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes", headers=dict(_CLOSE))
        self.limit = limit


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Body caps: the longest matching path prefix wins, else the default."""

    default_bytes: int = DEFAULT_MAX_BODY_BYTES
    routes: Mapping[str, int] = field(default_factory=dict)

    def for_path(self, path: str) -> int:
        best, limit = -1, self.default_bytes
        for prefix, cap in self.routes.items():
            if (path == prefix or path.startswith(prefix.rstrip("/") + "/")) and len(prefix) > best:
                best, limit = len(prefix), cap
        return limit


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


class BodyGuard:
    """The middleware (module docstring)."""

    def __init__(self, app: ASGIApp, *, archive: Archive, sessions: Sessions,
                 limits: BodyLimits) -> None:
        self.app = app
        self.archive = archive
        self.sessions = sessions
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = _declared_length(headers)
        if not declared and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body to guard
            return
        limit = self.limits.for_path(scope["path"])
        machine = ("authorization" not in headers
                   and SESSION_COOKIE not in cookie_parser(headers.get("cookie", ""))
                   and client_certificate_user(scope) is not None)
        refusal = None if machine else await self._refuse_unauthenticated(headers)
        if refusal is None and declared is not None and declared > limit:
            refusal = error_response(ErrorCode.TOO_LARGE, BodyTooLarge(limit).detail, 413,
                                     headers=_CLOSE)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit)

    async def _refuse_unauthenticated(self, headers: Headers) -> JSONResponse | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        session_id = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        try:
            if "authorization" not in headers and session_id:
                await asyncio.to_thread(self.sessions.user, session_id)
                return None
            if scheme.lower() != "bearer" or not token.strip():
                raise AccessDenied(ErrorCode.UNAUTHENTICATED, "a bearer token is required")
            await asyncio.to_thread(self.archive.authenticate, token.strip())
        except TemporaryFailure as exc:
            return error_response(exc.code, f"{exc.what} failed temporarily; try again later",
                                  503, headers=_CLOSE)
        except ArchiveError as exc:
            return error_response(exc.code, str(exc), STATUS_BY_CODE.get(exc.code, 401),
                                  headers=_CLOSE)
        return None

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:  # read outside a route (FastAPI answers it inside one)
            if started:
                raise
            response = error_response(ErrorCode.TOO_LARGE, exc.detail, 413, headers=_CLOSE)
            await response(scope, receive, send)
