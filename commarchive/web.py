"""The API and UI listeners of ``commarchive serve``: plain HTTP, HTTPS, or both.

HTTPS is served natively (uvicorn with our own TLS context from
:mod:`ingest.tls`), so a small installation needs no proxy in front: with
``COMMARCHIVE_HTTPS`` set, every response over TLS carries HSTS
(:mod:`search_api.transport_security`), and ``COMMARCHIVE_HTTP=off`` removes
the plain listener. With ``tls.client_ca`` the HTTPS listener also asks for
a client certificate (optional, so browsers still connect): one that chains
to the CA (and is on ``tls.client_fingerprints`` when that is set) is handed to
the app in the ASGI TLS extension, where ``search_api.deps`` makes it the
``ingest`` identity that may upload recordings without a bearer token. A
rotated certificate (new files at the same paths) is
loaded into the live context every ``tls.reload_seconds``, so new connections
get it while open ones go on: no restart, no downtime.

One uvicorn server is the *main* one: ``serve`` awaits it and stops it on
SIGINT/SIGTERM (``commarchive.server`` handles the signals; neither server
captures them). The other, when both listen, is a companion stopped by the
closers when the main one returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from commarchive.settings import HTTP_OFF, Settings, parse_hostport
from ingest.tls import CertificateWatch, peer_allowed, server_context
from search_api.transport_security import StrictTransportSecurity

__all__ = ["WebListeners", "web_listeners"]

log = logging.getLogger("commarchive.serve")

Closer = Callable[[], Awaitable[None]]
COMPANION_START_TIMEOUT_SECONDS: Final = 30.0


class _NoSignals(uvicorn.Server):
    """uvicorn without its own signal handling: ``commarchive.server.run`` owns the
    process's signals and stops the main server; the closers stop a companion.

    uvicorn re-raises a caught signal once it has stopped, which kills the process
    by SIGTERM or ends it in a ``KeyboardInterrupt`` traceback, before the
    ingesters have been closed.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class WebListeners:
    """The main server (awaited by ``serve``), a companion, and the certificate watch."""

    main: uvicorn.Server
    companion: uvicorn.Server | None = None
    watch: CertificateWatch | None = None
    reload_seconds: float = 5.0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start_companions(self) -> list[Closer]:
        """Start the companion listener and the certificate watch; their closers."""
        closers: list[Closer] = []
        if self.companion is not None:
            companion = self.companion
            task = asyncio.create_task(companion.serve())
            deadline = asyncio.get_running_loop().time() + COMPANION_START_TIMEOUT_SECONDS
            while not companion.started:
                if task.done() or asyncio.get_running_loop().time() > deadline:
                    task.cancel()
                    raise OSError(f"the {_name(companion)} listener did not start")
                await asyncio.sleep(0.02)

            async def stop_companion() -> None:
                companion.should_exit = True
                with contextlib.suppress(asyncio.CancelledError, SystemExit):
                    await task

            closers.append(stop_companion)
        if self.watch is not None:
            watch_task = asyncio.create_task(self._watch(self.watch))

            async def stop_watch() -> None:
                watch_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch_task

            closers.append(stop_watch)
        return closers

    async def _watch(self, watch: CertificateWatch) -> None:
        while True:
            await asyncio.sleep(self.reload_seconds)
            watch.check()


class _ClientCertificate:
    """Puts the connection's verified client certificate into every request's scope."""

    def __init__(self, app: ASGIApp, pem: str) -> None:
        self.app = app
        self.tls = {"client_cert_chain": [pem], "client_cert_error": None}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}),
                                             "tls": self.tls}}
        await self.app(scope, receive, send)


def _certificate_protocol(fingerprints: tuple[str, ...]) -> type[H11Protocol]:
    """uvicorn's HTTP protocol, passing on a client certificate the handshake verified."""

    class ClientCertificateProtocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if der is not None and peer_allowed(ssl_object, fingerprints):
                self.app = _ClientCertificate(self.app, ssl.DER_cert_to_PEM_cert(der))

    return ClientCertificateProtocol


def _name(server: uvicorn.Server) -> str:
    return "HTTPS" if server.config.is_ssl else "HTTP"


def web_listeners(app: FastAPI, settings: Settings) -> WebListeners:
    """The listeners ``settings`` ask for (HTTP unless ``off``, HTTPS when set)."""
    configs: list[uvicorn.Config] = []
    context: ssl.SSLContext | None = None
    tls = settings.tls
    if settings.https:
        if tls.cert is None or tls.key is None:
            raise ValueError("https needs COMMARCHIVE_TLS_CERT and COMMARCHIVE_TLS_KEY")
        https_context = server_context(
            tls.cert, tls.key, client_ca=tls.client_ca,
            client_fingerprints=tls.client_fingerprints, require_client=False,
        )
        context = https_context
        protocol: type[asyncio.Protocol] | str = (
            _certificate_protocol(tuple(tls.client_fingerprints)) if tls.client_ca else "auto"
        )
        if tls.hsts_seconds:
            app.add_middleware(StrictTransportSecurity, max_age_s=tls.hsts_seconds)
        host, port = parse_hostport(settings.https)
        configs.append(uvicorn.Config(
            app, host=host, port=port, log_level="info", access_log=False, http=protocol,
            ssl_context_factory=lambda _config, _default: https_context,
        ))
    if settings.http != HTTP_OFF:
        host, port = parse_hostport(settings.http)
        configs.insert(0, uvicorn.Config(app, host=host, port=port, log_level="info",
                                         access_log=False))
    main, *rest = configs
    watch = None
    if context is not None and tls.cert is not None and tls.key is not None:
        watch = CertificateWatch(tls.cert, tls.key, [context])
    return WebListeners(
        main=_NoSignals(main),
        companion=_NoSignals(rest[0]) if rest else None,
        watch=watch,
        reload_seconds=tls.reload_seconds,
    )
