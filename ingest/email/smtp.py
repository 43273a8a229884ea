"""SMTP journaling ingest (aiosmtpd): the mail server BCCs every customer e-mail here.

The one promise that matters (RFC 5321 §6.1): ``250`` is sent only after
the message is durable: its sealed original (fsync'd, and its directory), its
catalog row and its audit event (the catalog's WAL fsync'd). Everything that
fails before that answers ``451`` so the sending MTA keeps the message and
retries; a retry of something that did get stored is recognised by its dedupe
key and merged, never stored twice. ``250`` does not wait for the search index:
the server starts the archive's index outbox (``archive.outbox``), which makes
the message searchable about a second later; when that outbox falls too far
behind, new messages get ``451`` until it catches up (backpressure).

Parsing and sealing run in worker processes (``SmtpConfig.workers``,
``ingest.email.workers``) or, with ``workers=0``, a bounded thread pool, never on the
event loop. Sealed messages go to one group committer (``archive.group_commit``):
messages that arrive together share one catalog transaction and fsync, and each
session gets its own answer once its message is durable. A bounded
number of messages is in flight at once: past that, clients get ``451``/``421``
and retry, instead of the server queueing without limit.

Access: a client-address allowlist (``554`` otherwise), optional STARTTLS with
a configured certificate (``530`` when required and missing), optional AUTH
whose password is the bearer token of an ``ingest`` user (``535`` otherwise),
or, with ``tls_client_ca``, a client certificate from that CA in place of AUTH
(STARTTLS or implicit TLS; see ``session``).

Nothing here writes message content anywhere but ``archive.ingest``: no spool
files, and no subject, body or address in a log line.

The modules beside this one: ``config`` (``SmtpConfig``, TLS and allowlist
checks), ``session`` (one connection: admission, DATA slots), ``smtp_data``
(the bulk DATA read), ``item``/``mime`` (bytes to ``NewItem``), ``workers``.

Exceptions (``ingest.errors``)::

    SmtpConfigError    invalid SmtpConfig (bad CIDR, AUTH without TLS, unreadable cert)
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from archive.errors import AccessDenied, InvalidRequest, TemporaryFailure
from archive.group_commit import GroupCommitter, GroupSink
from archive.intake import PreparedItem, without_original
from archive.model import IngestResult
from ingest.email.config import SmtpConfig, parse_allowlist, tls_context
from ingest.email.item import Envelope as MailEnvelope
from ingest.email.item import build_item
from ingest.email.mime import runaway_parse_threads
from ingest.email.parsed import MimeLimits
from ingest.email.session import IngestSMTP, SessionState
from ingest.email.workers import WorkerPool
from ingest.errors import SmtpConfigError, WorkerDied, WorkerStartError

log = logging.getLogger(__name__)

INGEST_ROLE: Final = "ingest"
#: aiosmtpd's own logger quotes command lines and, at DEBUG, message lines: keep it quiet.
AIOSMTPD_LOGGER: Final = "mail.log"

REPLY_TEMPFAIL: Final = "451 4.3.0 Message not archived (archive unavailable); try again later"
REPLY_INTERNAL: Final = "451 4.3.0 Message not archived (internal error); try again later"
REPLY_TIMEOUT: Final = "451 4.3.0 Message not archived in time; try again later"
REPLY_BACKLOG: Final = "451 4.3.2 Archive busy (indexing backlog); try again later"
REPLY_TOO_MANY_RCPTS: Final = "452 4.5.3 Too many recipients"
REPLY_AUTH_INVALID: Final = "535 5.7.8 Authentication credentials invalid"
REPLY_AUTH_TEMPFAIL: Final = "454 4.7.0 Temporary authentication failure"
REPLY_SHUTDOWN: Final = "421 4.3.2 Service shutting down; try again later"


def _where(exc: BaseException) -> str:
    """Type and innermost frame of an error: enough to debug, no message text (may quote mail)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {Path(last.filename).name}:{last.lineno}"



class _Handler:
    def __init__(self, archive: GroupSink, state: SessionState) -> None:
        self._archive = archive
        self._state = state

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        # aiosmtpd reads commands strictly in order, so pipelined clients are safe.
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self._state.config.max_recipients:
            return REPLY_TOO_MANY_RCPTS
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """``250`` only once the message is durable (``_store`` returned); ``451`` before."""
        if server.transport is None or server.transport.is_closing():
            # Client gone, or told 421 by a closing server while its data was still
            # arriving: no 250 can reach it, so it will retry; nothing is stored.
            return REPLY_INTERNAL
        backlog = self._archive.index_backlog()
        if backlog:  # refuse now rather than let memory and time to searchable run away
            self._state.tempfailed += 1
            log.warning("%s; answered 451", backlog)
            return REPLY_BACKLOG
        raw = envelope.original_content
        if not isinstance(raw, bytes):
            raw = bytes(raw or b"")
        options = {o.upper() for o in envelope.mail_options}
        mail_envelope = MailEnvelope(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            received_at=datetime.now(UTC),
            smtputf8=bool(envelope.smtp_utf8),
            body_8bitmime="BODY=8BITMIME" in options,
        )
        state = self._state
        future = asyncio.ensure_future(self._store(raw, mail_envelope))
        # Retrieve the outcome even if this session is gone before it completes.
        future.add_done_callback(_consume_late_result)
        try:
            async with asyncio.timeout(state.config.ingest_timeout_s):
                result = await asyncio.shield(future)
        except TimeoutError:
            state.tempfailed += 1
            log.error("ingest exceeded %.0f s; answered 451", state.config.ingest_timeout_s)
            return REPLY_TIMEOUT
        except TemporaryFailure as exc:
            state.tempfailed += 1
            log.warning("archive temporarily unavailable (%s); answered 451", exc.reason)
            return REPLY_TEMPFAIL
        except InvalidRequest as exc:
            # A policy refusal (no purpose applies): retrying cannot help, so say so.
            state.refused += 1
            log.warning("message refused by archive policy: %s", exc)
            return f"550 5.7.1 Message not archived: {exc}"
        except Exception as exc:
            state.tempfailed += 1
            log.error("ingest failed (%s); answered 451", _where(exc))
            return REPLY_INTERNAL
        if result.created:
            state.accepted += 1
            return f"250 2.0.0 Ok: archived as {result.item_id}"
        state.duplicates += 1
        return (
            f"250 2.0.0 Ok: already archived as {result.item_id}"
            f" ({result.merged_parties} new recipients merged)"
        )

    async def _store(self, raw: bytes, envelope: MailEnvelope) -> IngestResult:
        """Parse and seal (worker process or thread), then commit in a group."""
        state = self._state
        if state.pool is None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(state.executor, self._ingest, raw, envelope)
        try:
            prepared = await state.pool.run(_prepare_in_worker, raw, envelope)
        except WorkerDied:
            # Killed or out of memory: this message is not stored and the sender
            # retries; the pool has started a new worker meanwhile.
            raise TemporaryFailure("ingest", reason="ingest worker process died") from None
        return await asyncio.wrap_future(state.committer.submit(prepared))

    def _ingest(self, raw: bytes, envelope: MailEnvelope) -> IngestResult:
        config = self._state.config
        item = build_item(
            raw,
            envelope,
            is_internal=self._archive.is_internal_address,
            limits=config.limits,
            source=config.source,
        )
        # Messages parsed while the previous group commits go into the next one.
        return self._state.committer.ingest(item)

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error (%s)", _where(error))
        return REPLY_INTERNAL


#: This worker process's archive (opened by the pool's initializer), MIME limits, source.
_worker: tuple[GroupSink, MimeLimits, str] | None = None


def _start_worker(preparer: Callable[[], GroupSink], limits: MimeLimits, source: str) -> None:
    global _worker
    _worker = (preparer(), limits, source)


def _prepare_in_worker(raw: bytes, envelope: MailEnvelope) -> PreparedItem:
    """In a worker process: parse the message, seal it and write its blobs."""
    assert _worker is not None, "worker not initialised"
    archive, limits, source = _worker
    item = build_item(raw, envelope, is_internal=archive.is_internal_address, limits=limits,
                      source=source)
    return without_original(archive.prepare(item))


def _consume_late_result(future: asyncio.Future[IngestResult]) -> None:
    """Mark the outcome retrieved: an ingest we stopped waiting for may still succeed
    (the sender's retry is then a duplicate) or fail (already answered 451)."""
    if not future.cancelled():
        future.exception()



def _authenticator(archive: GroupSink) -> Callable[..., AuthResult]:
    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False, message=REPLY_AUTH_INVALID)
        try:
            token = auth_data.password.decode("utf-8")
            user = archive.authenticate(token)
        except (UnicodeDecodeError, AccessDenied):
            return AuthResult(success=False, handled=False, message=REPLY_AUTH_INVALID)
        except TemporaryFailure:
            return AuthResult(success=False, handled=False, message=REPLY_AUTH_TEMPFAIL)
        except Exception as exc:
            log.error("SMTP AUTH check failed (%s)", _where(exc))
            return AuthResult(success=False, handled=False, message=REPLY_AUTH_TEMPFAIL)
        if str(getattr(user, "role", "")) != INGEST_ROLE:
            return AuthResult(success=False, handled=False, message=REPLY_AUTH_INVALID)
        return AuthResult(success=True, auth_data=getattr(user, "name", None))

    return authenticate


class SmtpServerHandle:
    """A running SMTP listener; ``await close()`` stops it and drains in-flight ingests."""

    def __init__(self, server: asyncio.Server, state: SessionState) -> None:
        self._server = server
        self._state = state
        self.port: int = server.sockets[0].getsockname()[1]
        self.host: str = state.config.host

    @property
    def stats(self) -> dict[str, int]:
        s = self._state
        return {"accepted": s.accepted, "duplicates": s.duplicates,
                "tempfailed": s.tempfailed, "refused": s.refused,
                "connections": s.connections,
                # this process's only: workers keep their own count
                "runaway_parse_threads": runaway_parse_threads()}

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the running ingest workers (none with ``workers=0``)."""
        return self._state.pool.pids if self._state.pool is not None else []

    @property
    def worker_restarts(self) -> int:
        return self._state.pool.restarts if self._state.pool is not None else 0

    async def close(self, *, drain_timeout_s: float = 30.0) -> None:
        """Stop listening; a message being stored gets its answer, then every connection
        is told ``421`` (the sender retries later) and closed."""
        self._server.close()
        state = self._state
        for protocol in list(state.protocols - state.storing):
            _say_goodbye(protocol)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout_s
        while state.storing and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for protocol in list(state.protocols):
            _say_goodbye(protocol)
        await self._server.wait_closed()
        executor = self._state.executor
        try:
            await asyncio.wait_for(
                asyncio.to_thread(executor.shutdown, wait=True), drain_timeout_s
            )
        except TimeoutError:
            log.error("SMTP ingest threads still busy after %.0f s", drain_timeout_s)
        if self._state.pool is not None:
            await self._state.pool.close(drain_timeout_s)
        await asyncio.to_thread(self._state.committer.close, drain_timeout_s)


def _say_goodbye(protocol: SMTP) -> None:
    transport = protocol.transport
    if isinstance(transport, asyncio.Transport) and not transport.is_closing():
        transport.write(f"{REPLY_SHUTDOWN}\r\n".encode())
        transport.close()


async def start_smtp_server(
    archive: GroupSink, config: SmtpConfig,
    *, preparer: Callable[[], GroupSink] | None = None,
) -> SmtpServerHandle:
    """Listen on ``config.host:config.port`` (port 0: any free port, see ``handle.port``).

    With ``config.workers``, ``preparer`` (picklable, e.g. a ``functools.partial``)
    opens the archive in each worker process; the workers are started, and must
    come up, before this returns.
    """
    if config.limits.parse_timeout_s != config.parse_timeout_s:
        limits = replace(config.limits, parse_timeout_s=config.parse_timeout_s)
        config = replace(config, limits=limits)
    context = tls_context(config)
    archive.start_indexing()  # 250 at durability: the index follows from the outbox
    state = SessionState(
        config=config,
        networks=parse_allowlist(config.allowlist),
        slots=asyncio.Semaphore(config.max_concurrent),
        executor=ThreadPoolExecutor(
            max_workers=config.max_concurrent, thread_name_prefix="smtp-ingest"
        ),
        committer=GroupCommitter(archive, max_group=config.max_concurrent,
                                 name="smtp-group-commit"),
        tls_context=context,
    )
    loop = asyncio.get_running_loop()
    if config.workers > 0:
        if preparer is None:
            raise SmtpConfigError("SMTP workers need a preparer (opens the archive in each)")
        # All started now: a worker that cannot open the archive fails the start,
        # not the first message.
        pool = WorkerPool(config.workers, _start_worker, (preparer, config.limits, config.source),
                          name="smtp-ingest-worker", discard=archive.abandon)
        try:
            await pool.start()
        except BaseException as exc:
            state.executor.shutdown(wait=False)
            state.committer.close()
            if isinstance(exc, WorkerStartError):
                raise SmtpConfigError(f"SMTP ingest workers could not start: {exc}") from exc
            raise
        state.pool = pool
    logging.getLogger(AIOSMTPD_LOGGER).setLevel(logging.WARNING)
    handler = _Handler(archive, state)
    authenticator = _authenticator(archive)

    def factory() -> IngestSMTP:
        return IngestSMTP(
            handler,
            state,
            data_size_limit=config.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=config.hostname,
            ident="commarchive ESMTP journaling archive",
            tls_context=None if config.implicit_tls else context,
            require_starttls=config.starttls_required,
            timeout=config.idle_timeout_s,
            auth_required=config.require_auth,
            auth_require_tls=True,
            authenticator=authenticator,
            loop=loop,
        )

    try:
        server = await loop.create_server(factory, host=config.host, port=config.port,
                                          ssl=context if config.implicit_tls else None)
    except OSError:
        state.executor.shutdown(wait=False)
        state.committer.close()
        if state.pool is not None:
            await state.pool.close()
        raise
    log.info("SMTP ingest listening on %s:%s", config.host, server.sockets[0].getsockname()[1])
    return SmtpServerHandle(server, state)

