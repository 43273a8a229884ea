"""Transcripts: derived content of a call, sealed like the call and then indexed.

The transcriber (``ingest.transcription``) reads a call's audio through here
(audited), and hands back the transcript: JSON with words and times, plain
text, and the sections for the index. All three are sealed under the item's
DEK; only the index holds searchable text.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

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

SYSTEM_ROLE = "system"
REASON_MAX_CHARS = 500


class Transcripts:
    """The archive's side of transcription: read audio, attach or fail a transcript."""

    def __init__(self, vault: Vault, indexer: Indexer) -> None:
        self._vault = vault
        self._indexer = indexer

    def pending(self, limit: int = 100) -> list[str]:
        """Calls waiting for a transcript, oldest first."""
        with self._vault.catalog.read() as conn:
            rows = conn.execute(
                sa.select(cat.items.c.id)
                .where(cat.items.c.transcript_status == TranscriptStatus.PENDING.value)
                .order_by(cat.items.c.id).limit(limit)
            ).all()
        return [str(r[0]) for r in rows]

    def load_audio(self, item_id: str) -> bytes:
        """The call's recording, unsealed in memory for the recogniser; audited."""
        data = self._vault.unseal_for_system(item_id, PART_ORIGINAL)
        self._vault.record_event(actor=SYSTEM_ACTOR, role=SYSTEM_ROLE,
                                 action="transcribe_read", item_ids=[item_id])
        return data

    def attach(
        self, item_id: str, transcript: dict[str, Any], sections: list[Section], text: str,
    ) -> None:
        """Seal a transcript (JSON, plain text, index sections) and index it."""
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
            tx.conn.execute(cat.items.update().where(cat.items.c.id == item_id).values(
                transcript_status=TranscriptStatus.DONE.value, transcript_reason=None))
            self._indexer.mark_dirty(tx.conn, [item_id])
            tx.event(actor=SYSTEM_ACTOR, role=SYSTEM_ROLE, action="transcribe",
                     item_ids=[item_id])
        self._indexer.index_items([item_id])

    def mark_failed(self, item_id: str, reason: str) -> None:
        """No transcript for this call; ``reason`` must not quote content (callers pass
        the error's type)."""
        reason = reason[:REASON_MAX_CHARS]
        with self._vault.write() as tx:
            tx.conn.execute(cat.items.update().where(cat.items.c.id == item_id).values(
                transcript_status=TranscriptStatus.FAILED.value, transcript_reason=reason))
            tx.event(actor=SYSTEM_ACTOR, role=SYSTEM_ROLE, action="transcribe_failed",
                     item_ids=[item_id], detail={"reason": reason})
