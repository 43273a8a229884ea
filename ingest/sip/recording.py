"""Turn a sealed call spool into a call item: at the end of a call, or after a crash.

A call's spool is archived while its BYE waits (:func:`archive_with_deadline`),
and deleted only once the item is durable; spools no live call owns are
archived at startup and retried by the server (:func:`recover_spools`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from archive.config import ArchiveConfig
from archive.errors import ArchiveError, TemporaryFailure
from archive.language import SIP_HEADERS_DETAIL
from archive.model import ItemStatus, NewItem, PartyRole
from ingest.calls import CallParticipant, CallRecording, build_call_item
from ingest.sip.counters import SipCounters
from ingest.sip.metadata import RecordingMetadata
from ingest.sip.rtp import SAMPLE_RATE
from ingest.sip.session import EndStatus
from ingest.sip.spool import (
    SpoolContents,
    SpoolError,
    is_live,
    list_spools,
    read_spool,
    remove_stale_creating,
)

if TYPE_CHECKING:
    from archive.service import Archive
    from keys import Keyring

log = logging.getLogger("commarchive.sip")

SOURCE: Final = "siprec"
SPOOL_DIR_NAME: Final = "spool"
UNREADABLE_DIR_NAME: Final = "unreadable"
#: Longest pause between attempts to archive a spool while a BYE waits.
MAX_ARCHIVE_RETRY_DELAY_S: Final = 2.0


def spool_dir(archive: Archive) -> Path:
    return archive.data_dir / SPOOL_DIR_NAME


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def item_from_spool(contents: SpoolContents, config: ArchiveConfig) -> NewItem:
    """The call item for a spool; ``truncated`` unless the call ended cleanly."""
    info = contents.info
    streams: list[dict[str, Any]] = list(info.get("streams") or [])
    count = max(len(streams), max(contents.audio, default=-1) + 1, 1)
    channels = [bytes(contents.audio.get(i, b"")) for i in range(count)]
    labels = [
        str(streams[i].get("label") or i) if i < len(streams) else str(i) for i in range(count)
    ]
    meta = RecordingMetadata.from_json(info.get("metadata") or {})
    participants: list[CallParticipant] = []
    channel_of: dict[str, int] = {}
    for index, label in enumerate(labels):
        owner = meta.participant_for_label(label)
        if owner is not None and owner.participant_id not in channel_of:
            channel_of[owner.participant_id] = index
    # RFC 7865 does not say who called whom; SRCs list the caller first.
    for position, part in enumerate(meta.participants.values()):
        if not part.aor and not part.name:
            continue
        role = (
            (PartyRole.CALLER, PartyRole.CALLEE)[position]
            if position < 2
            else PartyRole.PARTICIPANT
        )
        participants.append(
            CallParticipant(
                part.aor,
                name=part.name,
                role=role,
                channel_index=channel_of.get(part.participant_id),
            )
        )
    end = contents.end or {}
    started = (
        _parse_time(info.get("media_started_at"))
        or _parse_time(info.get("started_at"))
        or _parse_time(contents.created)
        or datetime.now(UTC)
    )
    if contents.complete and end.get("status", EndStatus.OK) == EndStatus.OK:
        status, reason = ItemStatus.OK, None
    else:
        status = ItemStatus.TRUNCATED
        reason = str(end.get("reason") or "recovered after a crash")
    frames = max((len(c) // 2 for c in channels), default=0)
    # The item spans the recorded audio; when signalling ended is kept in the details.
    ended = started + timedelta(seconds=frames / SAMPLE_RATE)
    session_id = meta.session_ids[0] if meta.session_ids else None
    call_id = str(info.get("call_id") or contents.spool_id)
    extra: dict[str, bytes] = {}
    xml = info.get("metadata_xml")
    if isinstance(xml, str) and xml:
        extra["metadata.xml"] = xml.encode()
    rec = CallRecording(
        source=SOURCE,
        sample_rate=SAMPLE_RATE,
        channels=channels,
        started_at=started,
        ended_at=ended,
        participants=participants,
        channel_labels=labels,
        call_id=call_id,
        dedupe_key=f"siprec:{session_id or '-'}/{call_id}",
        status=status,
        status_reason=reason,
        details={
            "session_id": session_id,
            "group_id": meta.group_id,
            "metadata": meta.to_json(),
            "streams": streams,
            "rtp": end.get("rtp_stats") or {},
            "signalling_started_at": info.get("started_at"),
            "signalling_ended_at": end.get("ended_at"),
            # For the language rules that read a header of the INVITE (archive.language).
            SIP_HEADERS_DETAIL: dict(info.get("sip_headers") or {}),
        },
        extra_parts=extra,
    )
    return build_call_item(rec, config)


def archive_spool(archive: Archive, path: Path, keyring: Keyring | None = None) -> str:
    """Ingest one spool and delete it once durable; returns the item id.

    Raises TemporaryFailure (spool kept for a retry) or SpoolError (unreadable).
    """
    return _archive_contents(archive, read_spool(path, keyring or archive.keyring))


def _archive_contents(archive: Archive, contents: SpoolContents) -> str:
    item = item_from_spool(contents, archive.config)
    result = archive.ingest(item)
    contents.path.unlink(missing_ok=True)
    return result.item_id


def carried_audio(contents: SpoolContents) -> bool:
    """Whether the call ever received RTP (a session without any is not a recording)."""
    return bool(contents.info.get("media_started_at")) or any(contents.audio.values())


async def archive_with_deadline(
    archive: Archive, path: Path, *, timeout_s: float, counters: SipCounters
) -> str | None:
    """Archive a finished call's spool in a worker thread, retrying until ``timeout_s``.

    The item id once durable; None when the archive did not take it in time or
    refused it (the sealed spool stays for the retry or for recovery).
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        try:
            item_id = await asyncio.to_thread(archive_spool, archive, path)
        except TemporaryFailure as exc:
            counters.archive_failures += 1
            log.warning("archive unavailable for spool %s: %s", path.stem, exc.reason)
            if time.monotonic() + delay > deadline:
                return None  # the sealed spool stays; housekeeping retries it
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_ARCHIVE_RETRY_DELAY_S)
            continue
        except Exception as exc:  # the sealed spool stays; recovery retries or sets it aside
            counters.archive_failures += 1
            log.error("spool %s not archived: %s", path.stem, type(exc).__name__)
            return None
        counters.calls_archived += 1
        return item_id


def recover_spools(archive: Archive, *, exclude: Collection[str] = ()) -> list[str]:
    """Archive every spool no live call owns (after a crash they become ``truncated``).

    A spool of a call that never received RTP is removed, not archived (no audio,
    no recording: as for a live call, ``ingest.sip.uas``). Unreadable spools are
    moved aside (never deleted); ones the archive cannot take now stay for the
    next attempt.
    """
    recovered: list[str] = []
    directory = spool_dir(archive)
    for stale in remove_stale_creating(directory):
        log.warning("spool %s was never completed (a crash while it was created); removed",
                    stale.name)
    for path in list_spools(directory):
        if path.stem in exclude or is_live(path):
            continue
        try:
            contents = read_spool(path, archive.keyring)
            if not carried_audio(contents):
                # Like a live call ended without audio: nothing heard, nothing to archive.
                path.unlink(missing_ok=True)
                log.warning("spool %s never carried audio; removed, not archived", path.stem)
                continue
            recovered.append(_archive_contents(archive, contents))
            log.info("recovered call spool %s", path.stem)
        except SpoolError as exc:
            _move_aside(path, directory)
            log.error("spool %s unreadable (%s); moved aside", path.stem, exc.reason)
        except TemporaryFailure as exc:
            log.warning("spool %s not archived yet: %s", path.stem, exc.reason)
        except ArchiveError as exc:
            _move_aside(path, directory)
            log.error("spool %s refused by the archive (%s); moved aside", path.stem, exc.code)
    return recovered


def _move_aside(path: Path, directory: Path) -> None:
    """Out of the recovery loop, kept (still sealed) for an operator to look at."""
    aside = directory / UNREADABLE_DIR_NAME
    aside.mkdir(exist_ok=True, mode=0o700)
    path.rename(aside / path.name)
