"""``commarchive serve``: HTTP API plus the ingesters and background jobs, one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Final

import uvicorn

from archive.outbox import OutboxLimits
from archive.retention import SweepReport, sweep
from archive.service import Archive
from commarchive import runtime
from commarchive.settings import Settings, SipSettings, SmtpSettings, parse_hostport
from ingest.email.config import SmtpConfig
from ingest.sip.config import SipConfig
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
        max_message_bytes=smtp.max_message_bytes, max_recipients=smtp.max_recipients,
        max_concurrent=smtp.max_concurrent, workers=smtp.workers,
        max_connections=smtp.max_connections, busy_wait_s=smtp.busy_wait_seconds,
        ingest_timeout_s=smtp.ingest_timeout_seconds,
        parse_timeout_s=smtp.parse_timeout_seconds, idle_timeout_s=smtp.idle_timeout_seconds,
        data_timeout_s=smtp.data_timeout_seconds,
    )


def sip_config(sip: SipSettings) -> SipConfig:
    """The SIPREC server ``settings.sip`` describes (its ``listen`` must be set)."""
    if not sip.listen:
        raise ValueError("no SIP listen address")
    host, port = parse_hostport(sip.listen)
    return SipConfig(
        host=host, port=port, advertise=sip.advertise, allowlist=tuple(sip.allow),
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
    if settings.sip.listen:
        from ingest.sip import recover_spools, start_sip_server

        recovered = await asyncio.to_thread(recover_spools, archive)
        if recovered:
            log.warning("recovered %d interrupted call(s) as truncated", len(recovered))
        sip_cfg = sip_config(settings.sip)
        sip = await start_sip_server(archive, sip_cfg)
        closers.append(sip.close)
        log.info("SIPREC server listening on %s:%s (UDP and TCP)", sip_cfg.host,
                 sip.udp_port)
    if settings.drop_folder:
        from ingest.dropfolder import DropFolderConfig, run_drop_folder

        task = asyncio.create_task(
            run_drop_folder(archive, DropFolderConfig(path=settings.drop_folder))
        )
        closers.append(_cancel(task))
        log.info("watching drop folder %s", settings.drop_folder)
    return closers


def _cancel(task: asyncio.Task[Any]) -> Closer:
    async def close() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return close


async def _start_background(archive: Archive, settings: Settings) -> list[Closer]:
    closers: list[Closer] = []
    from ingest.transcription.engine import Transcriber
    from ingest.transcription.worker import TranscriptionWorker

    def discover() -> Transcriber | None:
        return Transcriber.discover(settings.transcribe.vosk_model)

    transcriber = await asyncio.to_thread(discover)
    if transcriber is None:
        log.info("no vosk model configured or installed: calls stay 'pending'; "
                 "looking for one every minute")
    else:
        log.info("transcribing with vosk model %s", transcriber.model_name)
    worker = TranscriptionWorker(archive, transcriber, workers=settings.transcribe.workers,
                                 discover=discover)
    worker.start()
    archive.ingest_listeners.append(
        lambda result, new: worker.wake() if new.transcribe else None)
    closers.append(_async(worker.stop))
    closers.append(_cancel(asyncio.create_task(_periodic_jobs(archive, settings))))
    return closers


def _async(fn: Callable[[], object]) -> Closer:
    async def close() -> None:
        await asyncio.to_thread(fn)

    return close


def sweep_once(archive: Archive, settings: Settings) -> tuple[SweepReport, list[str]]:
    """The retention sweep, then rejected drop-folder recordings past their retention.

    Rejected recordings are not items (nothing in the catalog), so the sweep
    cannot see them; without this they would be kept forever. The second value
    names the rejected recordings purged.
    """
    report = sweep(archive, actor="sweeper")
    purged: list[str] = []
    if settings.drop_folder:
        from ingest.dropfolder import DropFolderConfig, purge_rejected

        purged = purge_rejected(
            DropFolderConfig(path=settings.drop_folder),
            older_than=timedelta(days=settings.drop_folder_rejected_days),
        )
        if purged:
            archive.audit.record(actor="sweeper", role="system", action="purge_rejected",
                                 detail={"count": len(purged)})
    return report, purged


async def _periodic_jobs(archive: Archive, settings: Settings) -> None:
    """Catch-up indexing every minute; the retention sweep on its own interval."""
    loop = asyncio.get_running_loop()
    next_sweep = loop.time()
    while True:
        try:
            await asyncio.to_thread(archive.reindex_dirty)
            if loop.time() >= next_sweep:
                next_sweep = loop.time() + settings.sweep_interval_seconds
                report, rejected = await asyncio.to_thread(sweep_once, archive, settings)
                if report.dropped or report.purged or rejected:
                    log.info("retention sweep: %d tag(s) dropped, %d item(s) purged, "
                             "%d rejected recording(s) purged", len(report.dropped),
                             len(report.purged), len(rejected))
        except Exception:  # keep the jobs alive; the next round retries
            log.exception("periodic job failed")
        await asyncio.sleep(REINDEX_INTERVAL_SECONDS)


async def run(settings: Settings) -> None:
    archive = runtime.open_archive(settings)
    host, port = parse_hostport(settings.http)
    server = uvicorn.Server(
        uvicorn.Config(create_app(archive), host=host, port=port, log_level="info",
                       access_log=False)
    )
    closers: list[Closer] = []
    try:
        # Acknowledge at durability from here on; index in the background, starting
        # with whatever a crash left unindexed.
        archive.start_indexing(OutboxLimits(max_depth=settings.outbox_max_items,
                                            max_age_s=settings.outbox_max_age_seconds))
        closers += await _start_ingesters(archive, settings)
        closers += await _start_background(archive, settings)
        await server.serve()
    finally:
        for close in reversed(closers):
            try:
                await close()
            except Exception:
                log.exception("error while shutting down")
        archive.close()


def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(settings))
