"""The archive facade: one entry point for the CLI, the API and the ingesters.

``Archive`` composes the vault (keys, catalog, store, sealing, records,
shredding, the audited write) with the rooms built on it: intake, reading,
indexing and transcripts. It holds no logic of its own beyond wiring and a
few delegating methods, so callers keep one object to pass around while each
room keeps one job. Data-subject rights (``archive.rights``), legal holds
(``archive.holds``) and retention (``archive.retention``) are functions over
this facade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import keys
from archive import keyadmin, metrics
from archive.anchors import AuditAnchor
from archive.audit import SYSTEM_ACTOR, AuditLog
from archive.catalog import Catalog
from archive.config import ArchiveConfig, Purpose, Role
from archive.errors import SearchIndexError, StoreError, TemporaryFailure
from archive.index import IndexDoc, SearchIndex, SearchQuery
from archive.indexing import Indexer
from archive.intake import CommittedGroup, IngestListener, Intake, PreparedItem
from archive.ledger import ErasureLedger
from archive.model import (
    IngestResult,
    ItemRecord,
    ItemStatus,
    NewItem,
    Section,
    TranscriptStatus,
)
from archive.outbox import IndexOutbox, OutboxLimits, OutboxStatus
from archive.parties import is_internal_address, normalise_identifier
from archive.reading import Content, ContentSlice, ItemView, RangePick, Reader, SearchPage
from archive.sessions import SessionStore
from archive.store import ObjectStore
from archive.transcripts import Transcripts
from archive.users import User, Users
from archive.vault import PART_ORIGINAL, Vault

#: ``(identifiers, actor) -> {"source": ..., "erased": [...], "unattributed": [...]}``
OutsideEraser = Callable[[Sequence[str], str], dict[str, Any]]
#: ``(now, dry_run, actor) -> {"source": ..., "purged": [...]}``
OutsideSweeper = Callable[[datetime, bool, str], dict[str, Any]]
#: ``(connection, item_ids)``, inside the transaction that lifts their restriction.
LiftHook = Callable[[Connection, Sequence[str]], None]


class Archive:
    """The sealed archive over one catalog, object store, index and keyring."""

    def __init__(
        self,
        *,
        data_dir: Path,
        config: ArchiveConfig,
        catalog: Catalog,
        store: ObjectStore,
        index: SearchIndex,
        keyring: keys.Keyring,
        anchor: AuditAnchor | None = None,
        ledger: ErasureLedger | None = None,
    ) -> None:
        self.vault = Vault(data_dir=data_dir, config=config, catalog=catalog, store=store,
                           keyring=keyring, anchor=anchor, ledger=ledger)
        self.index = index
        self.indexer = Indexer(self.vault, index)
        #: Indexes new items in the background once started (``start_indexing``).
        self.outbox = IndexOutbox(self.vault, self.indexer)
        self.intake = Intake(self.vault, self.indexer, self.outbox)
        self.reader = Reader(self.vault, index)
        self.transcripts = Transcripts(self.vault, self.indexer)
        self.users = Users(catalog)
        #: Browser sessions, in the catalog so any node accepts any node's cookie.
        self.sessions = SessionStore(catalog, self.users)
        #: Erasers of a subject's data that lives outside the catalog (e.g. rejected
        #: drop-folder recordings), set by the composition root; each takes the
        #: identifiers and the actor, erases, and says what it did (for the certificate).
        self.outside_erasers: list[OutsideEraser] = []
        #: The same for retention: material outside the catalog that the sweep must
        #: also purge when its time is up (every sweep: serve's, the CLI's, the API's).
        self.outside_sweepers: list[OutsideSweeper] = []
        #: Work a restriction held back (Art. 18: stored, not processed), queued again in
        #: the transaction that lifts it (the quality team's monitoring checks).
        self.restriction_lifted: list[LiftHook] = []

    # The vault's parts, for the rooms and operations built on the facade.

    @property
    def data_dir(self) -> Path:
        return self.vault.data_dir

    @property
    def config(self) -> ArchiveConfig:
        return self.vault.config

    @property
    def catalog(self) -> Catalog:
        return self.vault.catalog

    @property
    def store(self) -> ObjectStore:
        return self.vault.store

    @property
    def keyring(self) -> keys.Keyring:
        return self.vault.keyring

    @property
    def audit(self) -> AuditLog:
        return self.vault.audit

    @property
    def ingest_listeners(self) -> list[IngestListener]:
        """Called after each new item is durable (e.g. to wake the transcriber)."""
        return self.intake.listeners

    def close(self) -> None:
        self.outbox.stop()
        self.indexer.flush_flags()
        self.index.close()
        self.vault.close()

    # -- identities -------------------------------------------------------------------

    def authenticate(self, token: str) -> User:
        return self.users.authenticate(token)

    def is_internal_address(self, address: str) -> bool:
        return is_internal_address(self.config, address)

    def normalise_subject(self, identifier: str) -> str:
        """The catalog form of a data-subject identifier (e-mail, E.164, SIP URI ...)."""
        return normalise_identifier(self.config, identifier)[1]

    def role_is_anonymised(self, role: Role) -> bool:
        return self.reader.role_is_anonymised(role)

    # -- intake -----------------------------------------------------------------------------

    def ingest(self, new: NewItem, *, actor: str = SYSTEM_ACTOR) -> IngestResult:
        """Seal and store an item; durable (blob and catalog row) when this returns.

        Anything that goes wrong before durability raises TemporaryFailure, so
        the sender retries; a re-delivery is recognised by its dedupe key.
        """
        result = self.intake.ingest_many([new], actor=actor)[0]
        if isinstance(result, Exception):
            raise result
        return result

    def ingest_many(
        self, news: Sequence[NewItem], *, actor: str = SYSTEM_ACTOR
    ) -> list[IngestResult | Exception]:
        return self.intake.ingest_many(news, actor=actor)

    def prepare(self, new: NewItem) -> PreparedItem:
        return self.intake.prepare(new)

    def abandon(self, item: PreparedItem) -> None:
        self.intake.abandon(item)

    def commit_group(
        self, items: Sequence[PreparedItem], *, actor: str = SYSTEM_ACTOR
    ) -> CommittedGroup:
        return self.intake.commit_group(items, actor=actor)

    def finish_group(self, done: CommittedGroup) -> list[IngestResult | Exception]:
        return self.intake.finish_group(done)

    def recheck_group(self, done: CommittedGroup) -> None:
        self.intake.recheck_group(done)

    # -- reading ----------------------------------------------------------------------------

    def record(self, item_id: str) -> ItemRecord:
        """Catalog state of an item (no content, no audit): for internal use."""
        return self.vault.record(item_id)

    def list_records(
        self, *, status: ItemStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[ItemRecord]:
        return self.vault.list_records(status=status, limit=limit, offset=offset)

    def item_ids(self, *, where: Any = None) -> list[str]:
        return self.vault.item_ids(where=where)

    def authorize(self, user: User, record: ItemRecord, purpose: str | None = None) -> Purpose:
        return self.reader.authorize(user, record, purpose)

    def read_content(
        self, user: User, item_id: str, *, part: str = PART_ORIGINAL,
        purpose: str | None = None,
    ) -> Content:
        return self.reader.read_content(user, item_id, part=part, purpose=purpose)

    def read_audio(self, user: User, item_id: str, *, purpose: str | None = None) -> Content:
        return self.reader.read_audio(user, item_id, purpose=purpose)

    def read_audio_range(self, user: User, item_id: str, pick: RangePick, *,
                         purpose: str | None = None) -> ContentSlice:
        return self.reader.read_audio_range(user, item_id, pick, purpose=purpose)

    def get_item(self, user: User, item_id: str) -> ItemView:
        return self.reader.get_item(user, item_id)

    def search(self, user: User, query: SearchQuery) -> SearchPage:
        with metrics.SEARCH_SECONDS.time():
            return self.reader.search(user, query)

    # -- indexing ---------------------------------------------------------------------------

    def build_index_doc(self, item_id: str) -> IndexDoc:
        return self.indexer.build(item_id)

    def reindex(
        self, *, clear: bool = True, progress: Callable[[int], None] | None = None,
    ) -> int:
        return self.indexer.reindex(clear=clear, progress=progress)

    def reindex_dirty(self) -> int:
        """Index what a failed or interrupted indexing left marked (through the outbox
        while it runs, so nothing waiting there is built twice)."""
        if self.outbox.running:
            return self.outbox.put_dirty()
        return self.indexer.reindex_dirty()

    def start_indexing(self, limits: OutboxLimits | None = None) -> None:
        """From now on ingest acknowledges at durability and new items are indexed in the
        background (``archive.outbox``); what the catalog still marks unindexed is first."""
        self.outbox.start(limits)

    def flush_index(self, timeout: float | None = 30.0) -> bool:
        """Wait until every item ingested so far is searchable; False on timeout."""
        return self.outbox.flush(timeout)

    def index_status(self) -> OutboxStatus:
        return self.outbox.status()

    def index_backlog(self) -> str | None:
        """Why ingest should refuse for now (the index outbox is too far behind), or None."""
        return self.outbox.backlogged()

    # -- transcripts --------------------------------------------------------------------------

    def pending_transcripts(self, limit: int = 100) -> list[str]:
        return self.transcripts.pending(limit)

    def load_audio_for_transcription(self, item_id: str) -> bytes:
        return self.transcripts.load_audio(item_id)

    def attach_transcript(
        self, item_id: str, transcript: dict[str, Any], sections: list[Section], text: str,
    ) -> None:
        self.transcripts.attach(item_id, transcript, sections, text)

    def mark_transcript_failed(self, item_id: str, reason: str) -> None:
        self.transcripts.mark_failed(item_id, reason)

    def transcript_language(self, item_id: str) -> str | None:
        return self.transcripts.language(item_id)

    def mark_transcript_unavailable(
        self, item_id: str, status: TranscriptStatus, reason: str, *, language: str | None = None,
    ) -> None:
        self.transcripts.mark_unavailable(item_id, status, reason, language=language)

    def awaiting_transcripts(
        self, *, language: str | None = None, limit: int = 100,
    ) -> list[str]:
        """Calls pending, or waiting for a model (``no_model``, ``language_unknown``)."""
        return self.transcripts.awaiting(language=language, limit=limit)

    # -- keys ---------------------------------------------------------------------------------

    def rotate_key(self, purpose: str, *, actor: str = SYSTEM_ACTOR,
                   progress: Callable[[int], None] | None = None) -> tuple[int, int]:
        return keyadmin.rotate_key(self.vault, purpose, actor=actor, progress=progress)

    def shred(self, item_id: str, *, purposes: Iterable[str] | None = None) -> list[str]:
        """Destroy an item's wrapped DEKs (all, or for some purposes): crypto-shredding."""
        with self.catalog.write() as conn:
            return self.vault.shred(conn, item_id, purposes=purposes)

    # -- health -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        status: dict[str, Any] = {"catalog": "ok", "store": "ok", "index": "ok"}
        try:
            with self.catalog.read() as conn:
                conn.execute(sa.select(1))
        except TemporaryFailure as exc:
            status["catalog"] = str(exc)
        try:
            self.store.check()
        except StoreError as exc:
            status["store"] = str(exc)
        try:
            self.index.health()
        except SearchIndexError as exc:
            status["index"] = str(exc)
        status["ok"] = all(v == "ok" for v in status.values())
        return status
