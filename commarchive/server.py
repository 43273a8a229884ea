"""``commarchive serve``: HTTP API plus the ingesters and background jobs, one event loop.

SIGINT (Ctrl+C) and SIGTERM (a service manager) stop it the same quiet way: no
new connections, a message being stored or a call being archived finishes and
gets its answer, other SMTP sessions get ``421``, live calls keep their sealed
spools for the next start; then one line, and exit status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, Final

import uvicorn
from prometheus_client.registry import Collector

from archive import metrics
from archive.config import CONFIG_FILE_NAME, example_values, example_warning
from archive.model import IngestResult, NewItem
from archive.outbox import OutboxLimits
from archive.retention import sweep
from archive.service import Archive
from commarchive import logs, runtime
from commarchive.settings import (
    Settings,
    SipSettings,
    SmtpSettings,
    TlsSettings,
    parse_hostport,
)
from commarchive.web import web_listeners
from ingest.email.config import SmtpConfig
from ingest.sip.config import DEFAULT_SIP_TLS_PORT, SipConfig, SipTlsConfig
from search_api.app import create_app

log = logging.getLogger("commarchive.serve")

Closer = Callable[[], Awaitable[None]]
REINDEX_INTERVAL_SECONDS: Final = 60


def smtp_config(smtp: SmtpSettings) -> SmtpConfig:
    """The SMTP listener ``settings.smtp`` describes (its ``listen`` must be set)."""
    if not smtp.listen:
        raise ValueError("no SMTP listen address")
    host, port = parse_hostport(smtp.listen)
    return SmtpConfig(
        host=host, port=port, allowlist=tuple(smtp.allow),
        tls_cert=smtp.tls_cert, tls_key=smtp.tls_key,
        require_tls=smtp.require_tls, require_auth=smtp.require_auth,
        tls_client_ca=smtp.tls_client_ca, implicit_tls=smtp.implicit_tls,
        max_message_bytes=smtp.max_message_bytes, max_recipients=smtp.max_recipients,
        max_concurrent=smtp.max_concurrent, workers=smtp.workers,
        max_connections=smtp.max_connections, busy_wait_s=smtp.busy_wait_seconds,
        ingest_timeout_s=smtp.ingest_timeout_seconds,
        parse_timeout_s=smtp.parse_timeout_seconds, idle_timeout_s=smtp.idle_timeout_seconds,
        data_timeout_s=smtp.data_timeout_seconds,
    )


def sip_tls_config(sip: SipSettings, tls: TlsSettings) -> SipTlsConfig | None:
    """SIP over TLS as ``sip.tls_listen`` and ``settings.tls`` describe it; None when off.

    A bare host (``0.0.0.0``) listens on the SIP-over-TLS port 5061.
    """
    if not sip.tls_listen:
        return None
    if tls.cert is None or tls.key is None:
        raise ValueError("SIP over TLS needs COMMARCHIVE_TLS_CERT and COMMARCHIVE_TLS_KEY")
    value = sip.tls_listen
    if ":" not in value and not value.isdigit():
        value = f"{value}:{DEFAULT_SIP_TLS_PORT}"
    host, port = parse_hostport(value)
    return SipTlsConfig(
        cert=tls.cert, key=tls.key, host=host, port=port, client_ca=tls.client_ca,
        client_fingerprints=tuple(tls.client_fingerprints), reload_check_s=tls.reload_seconds,
    )


def sip_config(sip: SipSettings, tls: TlsSettings | None = None) -> SipConfig:
    """The SIPREC server ``settings.sip`` describes (``listen`` or ``tls_listen`` must be set).

    With only ``tls_listen``, the server speaks SIP over TLS alone (no UDP, no TCP).
    """
    tls_config = sip_tls_config(sip, tls or TlsSettings())
    if sip.listen:
        host, port = parse_hostport(sip.listen)
    elif tls_config is not None:
        host, port = tls_config.host, 0
    else:
        raise ValueError("no SIP listen address")
    plain = bool(sip.listen)
    return SipConfig(
        host=host, port=port, udp=plain, tcp=plain, tls=tls_config,
        advertise=sip.advertise, allowlist=tuple(sip.allow),
        rtp_port_range=sip.rtp_port_range(),
        rtp_inactivity_timeout_s=sip.rtp_timeout_seconds, max_calls=sip.max_calls,
        session_expires_s=sip.session_expires_seconds,
        min_session_expires_s=sip.min_session_expires_seconds,
        bye_archive_timeout_s=sip.bye_archive_timeout_seconds,
        archive_retry_interval_s=sip.archive_retry_interval_seconds,
        max_call_duration_s=sip.max_call_duration_seconds,
        rtp_socket_buffer_bytes=sip.rtp_socket_buffer_bytes,
        tcp_idle_timeout_s=sip.tcp_idle_timeout_seconds,
        max_tcp_connections_per_source=sip.max_tcp_connections_per_source,
        require_srtp=sip.require_srtp,
    )


async def _start_ingesters(archive: Archive, settings: Settings) -> list[Closer]:
    closers: list[Closer] = []
    if settings.smtp.listen:
        from ingest.email.smtp import start_smtp_server

        config = smtp_config(settings.smtp)
        smtp = await start_smtp_server(
            archive, config, preparer=functools.partial(runtime.open_preparer, settings),
        )
        closers.append(smtp.close)
        log.info("SMTP ingest listening on %s:%s", config.host, smtp.port)
    if settings.sip.listen or settings.sip.tls_listen:
        from ingest.sip import recover_spools, start_sip_server
        from ingest.sip.counters import SipCollector

        recovered = await asyncio.to_thread(recover_spools, archive)
        if recovered:
            log.warning("recovered %d interrupted call(s) as truncated", len(recovered))
        sip_cfg = sip_config(settings.sip, settings.tls)
        sip = await start_sip_server(archive, sip_cfg)
        closers.append(sip.close)
        closers.append(_exposed(SipCollector(sip.counters, lambda: len(sip.active_calls()))))
        if sip.udp_port is not None:
            log.info("SIPREC server listening on %s:%s (UDP and TCP)", sip_cfg.host,
                     sip.udp_port)
        if sip_cfg.tls is not None:
            log.info("SIPREC server listening on %s:%s (TLS%s)", sip_cfg.tls.host,
                     sip.tls_port, ", client certificates required" if sip_cfg.tls.mutual
                     else "")
    if settings.drop_folder:
        from ingest.dropfolder import DropFolderConfig, run_drop_folder

        task = asyncio.create_task(
            run_drop_folder(archive, DropFolderConfig(path=settings.drop_folder))
        )
        closers.append(_cancel(task))
        log.info("watching drop folder %s", settings.drop_folder)
    return closers


def _exposed(collector: Collector) -> Closer:
    """Show ``collector`` on ``/metrics`` until the closer runs."""
    metrics.REGISTRY.register(collector)

    async def close() -> None:
        metrics.REGISTRY.unregister(collector)

    return close


def _cancel(task: asyncio.Task[Any]) -> Closer:
    async def close() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return close


async def _start_background(archive: Archive, settings: Settings) -> list[Closer]:
    closers: list[Closer] = []
    if not settings.embedded_worker:
        # Several nodes: `commarchive worker` processes transcribe and sweep. Ask for the
        # transcription now; a call whose request is lost in a crash is still pending,
        # and an idle worker queues the pending ones.
        from archive.jobs import JobQueue

        queue = JobQueue(archive.catalog)

        def ask(result: IngestResult, new: NewItem) -> None:
            if new.transcribe:
                queue.enqueue("transcribe", [result.item_id])

        archive.ingest_listeners.append(ask)
        log.info("no embedded worker: transcription, monitoring and sweeps run in "
                 "`commarchive worker`")
        closers.append(_cancel(asyncio.create_task(
            _periodic_jobs(archive, settings, sweeps=False))))
        return closers
    from ingest.transcription.routing import LanguageRouter
    from ingest.transcription.worker import TranscriptionWorker

    def discover() -> LanguageRouter | None:
        router = settings.transcribe.router()
        return router if router.enabled else None

    router = await asyncio.to_thread(discover)
    if router is None:
        log.info("no vosk model configured or installed: calls stay 'pending'; "
                 "looking for one every minute")
    else:
        log.info("transcribing with vosk models %s", router.describe())
    worker = TranscriptionWorker(archive, router, workers=settings.transcribe.workers,
                                 discover=discover)
    worker.start()
    archive.ingest_listeners.append(
        lambda result, new: worker.wake() if new.transcribe else None)
    closers.append(_async(worker.stop))
    # Monitoring policies over new e-mails, after their 250 (jobs queued in their commit).
    from commarchive.worker import JobKind, start_embedded

    closers.append(_async(start_embedded(archive, settings, [JobKind.MONITOR])))
    # Monitoring backfills on a thread of their own: a long one never delays the above.
    closers.append(_async(start_embedded(archive, settings, [JobKind.BACKFILL_MONITOR])))
    closers.append(_cancel(asyncio.create_task(_periodic_jobs(archive, settings))))
    return closers


def _async(fn: Callable[[], object]) -> Closer:
    async def close() -> None:
        await asyncio.to_thread(fn)

    return close


async def _periodic_jobs(archive: Archive, settings: Settings, *,
                         sweeps: bool = True) -> None:
    """Catch-up indexing every minute; the retention sweep on its own interval."""
    loop = asyncio.get_running_loop()
    next_sweep = loop.time()
    while True:
        try:
            await asyncio.to_thread(archive.reindex_dirty)
            if sweeps and loop.time() >= next_sweep:
                next_sweep = loop.time() + settings.sweep_interval_seconds
                report = await asyncio.to_thread(sweep, archive, actor="sweeper")
                outside = sum(len(o.get("purged", ())) for o in report.outside)
                if report.dropped or report.purged or outside:
                    log.info("retention sweep: %d tag(s) dropped, %d item(s) purged, "
                             "%d other file(s) purged", len(report.dropped),
                             len(report.purged), outside)
        except Exception:  # keep the jobs alive; the next round retries
            log.exception("periodic job failed")
        await asyncio.sleep(REINDEX_INTERVAL_SECONDS)


class _Stop:
    """The signals received, and the HTTP server to stop once there is one."""

    def __init__(self) -> None:
        self.signals: list[signal.Signals] = []
        self.server: uvicorn.Server | None = None

    def __call__(self, signum: signal.Signals) -> None:
        if not self.signals:
            # Shutting down is routine: uvicorn's step-by-step lines are not news.
            logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self.signals.append(signum)
        if self.server is not None:
            self.server.should_exit = True


async def run(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    stop = _Stop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        await _run(settings, stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if stop.signals:
        log.info("stopped on %s; in-flight work finished", stop.signals[0].name)


async def _run(settings: Settings, stop: _Stop) -> None:
    archive = runtime.open_archive(settings)
    example = example_values(archive.config)
    if example:
        log.warning(example_warning(example, str(archive.data_dir / CONFIG_FILE_NAME)))
    app = create_app(archive, approval_expiry_hours=settings.approval_expiry_hours)
    web = web_listeners(app, settings)  # HTTP and/or HTTPS (commarchive.web)
    server = stop.server = web.main
    closers: list[Closer] = []
    try:
        # Acknowledge at durability from here on; index in the background, starting
        # with whatever a crash left unindexed.
        archive.start_indexing(OutboxLimits(max_depth=settings.outbox_max_items,
                                            max_age_s=settings.outbox_max_age_seconds))
        closers += await _start_ingesters(archive, settings)
        closers += await _start_background(archive, settings)
        closers += await web.start_companions()
        if not stop.signals:  # a signal during start-up: stop without serving
            await server.serve()
    finally:
        for close in reversed(closers):
            try:
                await close()
            except Exception:
                log.exception("error while shutting down")
        archive.close()


def serve(settings: Settings) -> None:
    logs.configure(settings.log_format)
    try:
        asyncio.run(run(settings))
    except KeyboardInterrupt:  # Ctrl+C before the loop's own handler was in place
        log.info("stopped on SIGINT while starting")
