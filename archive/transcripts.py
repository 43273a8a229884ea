"""Transcripts: derived content of a call, sealed like the call and then indexed.

The transcriber (``ingest.transcription``) reads a call's audio through here
(audited), and hands back the transcript: JSON with words and times, plain
text, and the sections for the index. All three are sealed under the item's
DEK; only the index holds searchable text.

Failing closed: a call whose language has no model (``no_model``) or cannot be
told (``language_unknown``) gets a status and no transcript, so no words in the
wrong language are indexed or used to bleep a trainer's audio. A backfill finds
those again (``awaiting``) once a model is added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import catalog as cat
from archive.audit import SYSTEM_ACTOR
from archive.errors import StoreError, TemporaryFailure
from archive.indexing import Indexer, section_json
from archive.model import Section, TranscriptStatus
from archive.vault import (
    PART_ORIGINAL,
    PART_TRANSCRIPT,
    PART_TRANSCRIPT_INDEX,
    PART_TRANSCRIPT_TEXT,
    Vault,
    json_bytes,
)

log = logging.getLogger(__name__)

SYSTEM_ROLE = "system"
REASON_MAX_CHARS = 500
#: Statuses a model added later can turn into a transcript.
AWAITING_MODEL: Final = (TranscriptStatus.NO_MODEL, TranscriptStatus.LANGUAGE_UNKNOWN)


class Transcripts:
    """The archive's side of transcription: read audio, attach or fail a transcript."""

    def __init__(self, vault: Vault, indexer: Indexer) -> None:
        self._vault = vault
        self._indexer = indexer
        #: Called with the item id after a transcript is attached and indexed (e.g. the
        #: quality team's monitoring policies); a failing listener never undoes it.
        self.listeners: list[Callable[[str], None]] = []
        #: Called with the connection and item id in the transcript's own transaction,
        #: for what must be durable with it (the monitoring job).
        self.committing: list[Callable[[Connection, str], None]] = []

    def pending(self, limit: int = 100) -> list[str]:
        """Calls waiting for a transcript, oldest first."""
        with self._vault.catalog.read() as conn:
            rows = conn.execute(
                sa.select(cat.items.c.id)
                .where(cat.items.c.transcript_status == TranscriptStatus.PENDING.value)
                .order_by(cat.items.c.id).limit(limit)
            ).all()
        return [str(r[0]) for r in rows]

    def awaiting(
        self,
        statuses: Iterable[TranscriptStatus] = (TranscriptStatus.PENDING, *AWAITING_MODEL),
        *,
        language: str | None = None,
        limit: int = 100,
    ) -> list[str]:
        """Calls in one of ``statuses``, oldest first; with ``language``, only calls in it
        and calls whose language is still unknown (a new model may tell them)."""
        items = cat.items
        query = sa.select(items.c.id).where(
            items.c.transcript_status.in_([s.value for s in statuses]))
        if language is not None:
            query = query.where(sa.or_(
                items.c.language == language,
                items.c.transcript_status == TranscriptStatus.LANGUAGE_UNKNOWN.value))
        with self._vault.catalog.read() as conn:
            rows = conn.execute(query.order_by(items.c.id).limit(limit)).all()
        return [str(r[0]) for r in rows]

    def language(self, item_id: str) -> str | None:
        """The item's language as a rule or detector decided it; None: not decided."""
        return self._vault.record(item_id).language

    def load_audio(self, item_id: str) -> bytes:
        """The call's recording, unsealed in memory for the recogniser; audited."""
        data = self._vault.unseal_for_system(item_id, PART_ORIGINAL)
        self._vault.record_event(actor=SYSTEM_ACTOR, role=SYSTEM_ROLE,
                                 action="transcribe_read", item_ids=[item_id])
        return data

    def attach(
        self, item_id: str, transcript: dict[str, Any], sections: list[Section], text: str,
    ) -> None:
        """Seal a transcript (JSON, plain text, index sections) and index it.

        The transcript's ``language`` (the model's) becomes the item's language."""
        vault = self._vault
        dek = vault.dek(item_id)
        payloads = {
            PART_TRANSCRIPT: (json_bytes(transcript), "application/json"),
            PART_TRANSCRIPT_TEXT: (text.encode(), "text/plain; charset=utf-8"),
            PART_TRANSCRIPT_INDEX: (
                json_bytes({"sections": [section_json(s) for s in sections]}),
                "application/json",
            ),
        }
        try:
            rows = [vault.seal_part(item_id, name, data, ctype, dek)
                    for name, (data, ctype) in payloads.items()]
        except StoreError as exc:
            raise TemporaryFailure(f"transcript {item_id}", reason=str(exc)) from exc
        with vault.write() as tx:
            tx.conn.execute(cat.parts.delete().where(
                cat.parts.c.item_id == item_id, cat.parts.c.name.in_(list(payloads))))
            tx.conn.execute(cat.parts.insert(), rows)
            values: dict[str, Any] = {"transcript_status": TranscriptStatus.DONE.value,
                                      "transcript_reason": None}
            if transcript.get("language"):
                values["language"] = str(transcript["language"])
            tx.conn.execute(cat.items.update().where(cat.items.c.id == item_id).values(values))
            self._indexer.mark_dirty(tx.conn, [item_id])
            for hook in self.committing:
                hook(tx.conn, item_id)
            tx.event(actor=SYSTEM_ACTOR, role=SYSTEM_ROLE, action="transcribe",
                     item_ids=[item_id])
        self._indexer.index_items([item_id])
        for listener in self.listeners:
            try:
                listener(item_id)
            except Exception:
                log.exception("transcript listener failed")

    def mark_failed(self, item_id: str, reason: str) -> None:
        """No transcript for this call; ``reason`` must not quote content (callers pass
        the error's type)."""
        reason = reason[:REASON_MAX_CHARS]
        with self._vault.write() as tx:
            tx.conn.execute(cat.items.update().where(cat.items.c.id == item_id).values(
                transcript_status=TranscriptStatus.FAILED.value, transcript_reason=reason))
            tx.event(actor=SYSTEM_ACTOR, role=SYSTEM_ROLE, action="transcribe_failed",
                     item_ids=[item_id], detail={"reason": reason})

    def mark_unavailable(
        self, item_id: str, status: TranscriptStatus, reason: str, *, language: str | None = None,
    ) -> None:
        """No transcript, on purpose: ``no_model`` or ``language_unknown``.

        Only calls without a transcript get here (pending or awaiting a model),
        so no earlier words are left to remove.
        """
        if status not in AWAITING_MODEL:
            raise ValueError(f"{status.value} is not a 'no transcript' status")
        reason = reason[:REASON_MAX_CHARS]
        values: dict[str, Any] = {"transcript_status": status.value, "transcript_reason": reason}
        if language is not None:
            values["language"] = language
        with self._vault.write() as tx:
            tx.conn.execute(cat.items.update().where(cat.items.c.id == item_id).values(values))
            tx.event(actor=SYSTEM_ACTOR, role=SYSTEM_ROLE, action=f"transcribe_{status.value}",
                     item_ids=[item_id], detail={"reason": reason, "language": language})
