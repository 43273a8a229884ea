"""One SMTP connection: aiosmtpd's protocol with admission control and a bulk DATA read.

Before the ``220`` greeting a client outside the allowlist gets ``554`` and one
past the connection cap ``421``; DATA waits (bounded) for one of
``max_concurrent`` slots, else ``451``; the whole DATA phase must end within
``data_timeout_s`` (a sender trickling its message holds a slot), else ``421``
and the connection is closed, nothing stored. With ``SmtpConfig.tls_client_ca``
the TLS handshake (STARTTLS or implicit) requires a client certificate from that
CA, and a session that has one is authenticated as the mail server it names
(``tls:<common name>``), in place of AUTH. A rotated certificate (new files at
``tls_cert``/``tls_key``) is loaded when the next client connects, at most once a
second (:class:`ingest.tls.CertificateWatch`). The answer to DATA is whatever the
handler in ``ingest.email.smtp`` returns, which is where the durability promise
(``250`` only once the message is stored) is kept.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, AnyStr, Final, cast

from aiosmtpd.smtp import MISSING, SMTP

from archive import metrics
from archive.group_commit import GroupCommitter
from ingest.email.config import Network, SmtpConfig
from ingest.email.smtp_data import DataState, read_data
from ingest.email.workers import WorkerPool
from ingest.tls import CertificateWatch

log = logging.getLogger(__name__)

#: RFC 5321 caps lines at 1000 octets; journaled mail from real MTAs sometimes exceeds
#: that, so accept long lines (still bounded per connection) rather than bounce them.
LINE_LENGTH_LIMIT_BYTES: Final = 1024 * 1024

REPLY_BUSY: Final = "451 4.3.2 Too busy; try again later"
REPLY_TOO_MANY_CONNECTIONS: Final = "421 4.3.2 Too many connections; try again later"
REPLY_NOT_ALLOWED: Final = "554 5.7.1 Client host not allowed to deliver to this archive"
REPLY_DATA_TIMEOUT: Final = "421 4.4.2 Message took too long to send; closing connection"


#: A new connection checks the certificate files for a rotation at most this often.
CERTIFICATE_CHECK_S: Final = 1.0
#: Sessions authenticated by a client certificate are this plus its common name.
CLIENT_CERTIFICATE_PREFIX: Final = "tls:"


def certificate_identity(ssl_object: Any) -> str | None:
    """``tls:<common name>`` of the client certificate a finished handshake verified."""
    if ssl_object is None:
        return None
    peer = ssl_object.getpeercert()
    if not peer:
        return None
    for rdn in peer.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return CLIENT_CERTIFICATE_PREFIX + str(value)
    return None


@dataclass(slots=True)
class SessionState:
    """What every connection of one listener shares: config, slots, workers, counters."""

    config: SmtpConfig
    networks: tuple[Network, ...]
    slots: asyncio.Semaphore
    executor: ThreadPoolExecutor
    committer: GroupCommitter
    pool: WorkerPool | None = None
    #: The TLS context STARTTLS (or implicit TLS) uses; a rotated certificate is put into it.
    tls_context: ssl.SSLContext | None = None
    certificates: CertificateWatch | None = None
    certificates_checked_at: float = 0.0
    connections: int = 0
    protocols: set[IngestSMTP] = field(default_factory=set)
    #: Connections whose message is being stored: on shutdown they get their answer first.
    storing: set[IngestSMTP] = field(default_factory=set)
    accepted: int = 0
    duplicates: int = 0
    tempfailed: int = 0
    refused: int = 0

    def __post_init__(self) -> None:
        cert, key = self.config.tls_cert, self.config.tls_key
        if self.tls_context is not None and cert is not None and key is not None:
            self.certificates = CertificateWatch(cert, key, [self.tls_context])

    def fresh_certificate(self) -> None:
        """Load a rotated certificate into the context (checked at most once a second)."""
        now = time.monotonic()
        if self.certificates is not None and now >= self.certificates_checked_at:
            self.certificates_checked_at = now + CERTIFICATE_CHECK_S
            self.certificates.check()

    def allowed(self, peer: object) -> bool:
        if not isinstance(peer, tuple) or not peer:
            return False
        try:
            address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in self.networks)


class IngestSMTP(SMTP):
    """aiosmtpd's SMTP with an address allowlist, a connection cap and DATA slots."""

    line_length_limit = LINE_LENGTH_LIMIT_BYTES

    def __init__(self, handler: object, state: SessionState, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._state = state

    async def push(self, status: AnyStr) -> None:
        """Every reply passes here: counted by code (the last line of a multi-line one)."""
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else str(status)
        if text[3:4] != "-":
            metrics.SMTP_REPLIES.labels(text[:3] if text[:3].isdigit() else "other").inc()
        await super().push(status)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:  # a new connection, not the end of STARTTLS
            self._state.fresh_certificate()
        super().connection_made(transport)
        # After STARTTLS this runs again with the TLS transport, once its handshake is done.
        if self._state.config.tls_client_ca is not None and self.session is not None:
            machine = certificate_identity(transport.get_extra_info("ssl_object"))
            if machine is not None:
                self.session.authenticated = True
                cast(Any, self.session).auth_data = machine  # as AUTH leaves the user's name

    async def _handle_client(self) -> None:
        # Overrides aiosmtpd's per-connection loop to refuse before the 220 greeting.
        state = self._state
        session = self.session
        assert session is not None
        refusal = None
        if not state.allowed(session.peer):
            log.warning("refused SMTP client %s (not in allowlist)", session.peer)
            refusal = REPLY_NOT_ALLOWED
        elif state.connections >= state.config.max_connections:
            refusal = REPLY_TOO_MANY_CONNECTIONS
        if refusal is not None:
            await self.push(refusal)
            if self.transport is not None:
                self.transport.close()
            return
        state.connections += 1
        state.protocols.add(self)
        try:
            await super()._handle_client()
        finally:
            state.connections -= 1
            state.protocols.discard(self)

    async def smtp_DATA(self, arg: str | None) -> None:
        session = self.session
        envelope = self.envelope
        ready = (
            session is not None
            and session.host_name
            and envelope is not None
            and envelope.rcpt_tos
            and not arg
            and (not self._auth_required or session.authenticated)
            and not (self.require_starttls and not self._tls_protocol)
        )
        if not ready:  # aiosmtpd answers the protocol error itself
            await super().smtp_DATA(arg)
            return
        slots = self._state.slots
        try:
            async with asyncio.timeout(self._state.config.busy_wait_s):
                await slots.acquire()
        except TimeoutError:
            await self.push(REPLY_BUSY)
            return
        try:
            if self.transport is not None:  # the client may have left while we waited
                await self._receive_data()
        finally:
            slots.release()

    async def _receive_data(self) -> None:
        """aiosmtpd's DATA with the message read in bulk (see ``ingest.email.smtp_data``)."""
        envelope = self.envelope
        assert envelope is not None
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            async with asyncio.timeout(self._state.config.data_timeout_s):
                content, state = await read_data(
                    self._reader, self.data_size_limit, self.line_length_limit
                )
        except asyncio.IncompleteReadError:  # the client left mid-message: nothing to answer
            if self.transport is not None:
                self.transport.close()
            return
        except TimeoutError:  # trickled past the limit: it holds a slot; nothing is stored
            log.warning("SMTP DATA from %s exceeded %.0f s; answered 421",
                        self.session.peer if self.session else "?",
                        self._state.config.data_timeout_s)
            await self.push(REPLY_DATA_TIMEOUT)
            if self.transport is not None:
                self.transport.close()
            return
        if state is DataState.TOO_MUCH:
            await self.push("552 5.3.4 Error: Too much mail data")
        elif state is DataState.TOO_LONG:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
        else:
            envelope.content = content
            envelope.original_content = content
            self._state.storing.add(self)
            try:
                status = await self._call_handler_hook("DATA")
                self._set_post_data_state()  # type: ignore[no-untyped-call]
                await self.push("250 OK" if status is MISSING else status)
            finally:
                self._state.storing.discard(self)
            return
        self._set_post_data_state()  # type: ignore[no-untyped-call]
