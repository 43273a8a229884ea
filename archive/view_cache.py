"""One anonymised view per item, computed once and kept sealed like any derived part.

Every trainer endpoint (content, transcript, audio, metadata) and every export
takes an item's anonymised e-mail text, transcript (words and utterances, and so
the bleep times of its audio), details and parties from here, so they agree even
when the recognisers change between two reads: the view is made once, sealed
with the item's data key as the part ``anonymised`` (in the catalog row or the
object store, never plaintext on disk), and erased with the item.

It is made again when anything it was made from changes: the recognisers'
version (``archive.anonymise.recognisers.version``: their revision and the
operator's customer-number formats), the item's parties and language (a
rectification), or the sealed parts it reads (a transcript attached again). The
key of the kept view is a hash of all of them; a view whose key differs is
stale and replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Final

from archive import catalog as cat
from archive.anonymise import AnonymisedView, recognisers
from archive.errors import InvalidRequest, StoreError
from archive.model import Channel, ItemRecord, TranscriptStatus
from archive.vault import (
    PART_DETAILS,
    PART_INDEX,
    PART_TRANSCRIPT,
    Vault,
    json_bytes,
)

log = logging.getLogger(__name__)

PART_ANONYMISED: Final = "anonymised"
#: Bumped when what a kept view holds changes shape.
VIEW_REVISION: Final = 1


@dataclass(frozen=True)
class KeptView:
    """What a trainer may see of one item, as made once from its sealed parts."""

    key: str
    details: dict[str, Any]
    parties: list[dict[str, Any]]
    email_text: str | None = None
    transcript: dict[str, Any] | None = None

    def bleep_spans(self) -> list[tuple[float, float]]:
        """The times of exactly the words the kept transcript redacts."""
        return sorted((float(w["start"]), float(w["end"]))
                      for s in (self.transcript or {}).get("speakers", [])
                      for w in s.get("words", []) if w.get("redacted"))


class ViewCache:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def view_of(self, record: ItemRecord) -> KeptView:
        """The item's anonymised view: the kept one if still current, else made now."""
        vault = self._vault
        dek = vault.dek(record.id)
        sources = {PART_DETAILS: vault.unseal(record.id, PART_DETAILS, dek)}
        if record.channel is Channel.EMAIL:
            sources[PART_INDEX] = vault.unseal(record.id, PART_INDEX, dek)
        if record.transcript_status is TranscriptStatus.DONE:
            sources[PART_TRANSCRIPT] = vault.unseal(record.id, PART_TRANSCRIPT, dek)
        key = self._key(record, sources)
        kept = self._kept(record.id, dek)
        if kept is not None and kept.key == key:
            return kept
        view = AnonymisedView(record.parties, record.language)
        made = KeptView(
            key=key, details=view.details(json.loads(sources[PART_DETAILS])),
            parties=view.parties(),
            email_text=(view.email_text(json.loads(sources[PART_INDEX]))
                        if PART_INDEX in sources else None),
            transcript=(view.transcript(json.loads(sources[PART_TRANSCRIPT]))
                        if PART_TRANSCRIPT in sources else None))
        self._keep(record.id, made, dek)
        return made

    @staticmethod
    def _key(record: ItemRecord, sources: dict[str, bytes]) -> str:
        digest = hashlib.sha256()
        for value in (str(VIEW_REVISION), recognisers.version(), record.language or "",
                      json.dumps([p.as_dict() for p in record.parties], sort_keys=True,
                                 default=str)):
            digest.update(value.encode())
            digest.update(b"\0")
        for name in sorted(sources):
            digest.update(name.encode() + b"\0" + hashlib.sha256(sources[name]).digest())
        return digest.hexdigest()

    def _kept(self, item_id: str, dek: bytes) -> KeptView | None:
        try:
            row = self._vault.part_row(item_id, PART_ANONYMISED)
        except InvalidRequest:
            return None
        data = json.loads(self._vault.unseal(item_id, PART_ANONYMISED, dek, row))
        return KeptView(**data)

    def _keep(self, item_id: str, view: KeptView, dek: bytes) -> None:
        """Seal and store the view; a store failure only costs making it again next time."""
        vault = self._vault
        data = json_bytes({"key": view.key, "details": view.details, "parties": view.parties,
                           "email_text": view.email_text, "transcript": view.transcript})
        try:
            row = vault.seal_part(item_id, PART_ANONYMISED, data, "application/json", dek)
        except StoreError as exc:
            log.warning("anonymised view of %s not kept: %s", item_id, exc)
            return
        with vault.write() as tx:
            if tx.conn.execute(cat.items.select().where(cat.items.c.id == item_id)).first() \
                    is None:
                return  # erased meanwhile
            tx.conn.execute(cat.parts.delete().where(cat.parts.c.item_id == item_id,
                                                     cat.parts.c.name == PART_ANONYMISED))
            tx.conn.execute(cat.parts.insert(), [row])
