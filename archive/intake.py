"""Intake: new items into the vault, in groups, deduplicated, acknowledged when durable.

Three stages, so concurrent deliveries share one catalog transaction
(``archive.group_commit`` runs them as a pipeline):

1. ``prepare`` (any thread, in parallel): purposes from the tagging rules, a
   fresh DEK wrapped per purpose, every part sealed, blobs written and fsync'd.
   Nothing is in the catalog yet; a crash leaves only sealed orphan blobs.
2. ``commit_group``: one write transaction for the whole group (rows, standing
   subject holds and restrictions, one audit event per item), then the anchor.
   When it returns, the new items are durable: an ingester may acknowledge.
3. ``finish_group``: storage legal holds, the index, the listeners; then the
   re-deliveries one by one (merged into the archived item, or refused when
   the item was erased). While the index outbox runs (``archive.outbox``, in
   ``serve`` and the SMTP server), new items only join it here and are
   searchable about a second later; otherwise (the CLI, embedders) they are
   indexed now and ``recheck_group`` afterwards fixes index entries that a
   privacy request raced.

Any failure before durability is a ``TemporaryFailure``: the sender retries and
the dedupe key (Message-ID + content hash, SIPREC session id) keeps it single.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import keys
from archive import catalog as cat
from archive import metrics, standing
from archive.audit import SYSTEM_ACTOR
from archive.config import Role
from archive.errors import ErrorCode, InvalidRequest, StoreError, TemporaryFailure
from archive.index import IndexDoc
from archive.indexing import Indexer, index_part
from archive.language import decide_language, email_language
from archive.model import (
    AddressKind,
    IngestResult,
    ItemStatus,
    NewItem,
    Party,
    PurposeTag,
    TranscriptStatus,
    now_utc,
)
from archive.outbox import IndexOutbox
from archive.tagging import decide_purposes
from archive.vault import (
    PART_DETAILS,
    PART_INDEX,
    PART_ORIGINAL,
    RESERVED_PARTS,
    Vault,
    json_bytes,
    new_item_id,
)

log = logging.getLogger(__name__)

IngestListener = Callable[[IngestResult, NewItem], None]


@dataclass(slots=True)
class PreparedItem:
    """A new item sealed and in the store, waiting for its catalog rows (``Intake.prepare``)."""

    item_id: str
    #: What was ingested; its ``original`` may be dropped once sealed (``without_original``).
    new: NewItem
    size: int
    digest: str
    dedupe: str
    prepared_at: datetime
    tags: list[PurposeTag]
    wrapped: list[keys.WrappedKey]
    subjects: dict[str, AddressKind]
    part_rows: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    #: Already archived (or erased) when prepared: nothing sealed, only merged or refused.
    redelivery: bool = False


@dataclass(slots=True)
class CommittedGroup:
    """A group after its catalog transaction (``Intake.commit_group``)."""

    items: Sequence[PreparedItem]
    actor: str
    results: list[IngestResult | Exception | None]
    fresh: list[int] = field(default_factory=list)  # committed as new items
    later: list[int] = field(default_factory=list)  # re-deliveries, for finish_group
    refused: list[int] = field(default_factory=list)  # a standing objection left no purpose
    held: set[str] = field(default_factory=set)
    asked: set[str] = field(default_factory=set)
    indexed: list[IndexDoc] = field(default_factory=list)  # for recheck_group
    #: ``Indexer.generation`` before the transaction: later marks mean a stale document.
    generation: int = 0


def without_original(item: PreparedItem) -> PreparedItem:
    """The prepared item without its plaintext original (sealed in the store already):
    what a worker process sends back, so the bytes are not copied back for nothing."""
    item.new = dataclasses.replace(item.new, original=b"")
    return item


def temporary(exc: BaseException) -> TemporaryFailure:
    """What a sender sees for a failure before durability: retry later."""
    if isinstance(exc, TemporaryFailure):
        return exc
    failure = TemporaryFailure("ingest", reason=str(exc) or type(exc).__name__)
    failure.__cause__ = exc
    return failure


def _party_rows(item_id: str, parties: Iterable[Party]) -> list[dict[str, Any]]:
    return [{"item_id": item_id, **p.as_dict()} for p in parties]


def _add_subjects(conn: Connection, item_id: str, subjects: dict[str, AddressKind]) -> None:
    """Add data-subject identifiers to an item, skipping those it has."""
    have = {r[0] for r in conn.execute(
        sa.select(cat.subjects.c.identifier).where(cat.subjects.c.item_id == item_id))}
    rows = [{"item_id": item_id, "identifier": ident, "kind": kind.value}
            for ident, kind in subjects.items() if ident not in have]
    if rows:
        conn.execute(cat.subjects.insert(), rows)


class Intake:
    """Prepare, commit and finish new items (see the module docstring)."""

    def __init__(self, vault: Vault, indexer: Indexer, outbox: IndexOutbox) -> None:
        self._vault = vault
        self._indexer = indexer
        self._outbox = outbox
        #: Called after each new item is durable (e.g. to wake the transcriber).
        self.listeners: list[IngestListener] = []
        #: Called in a group's transaction with its new items, for what must be durable
        #: with them (a job); a failure there fails the commit (the sender retries).
        self.committing: list[Callable[[Connection, Sequence[PreparedItem]], None]] = []

    def ingest_many(
        self, news: Sequence[NewItem], *, actor: str = SYSTEM_ACTOR
    ) -> list[IngestResult | Exception]:
        """Group commit of several items in one catalog transaction.

        Returns, in order, each item's IngestResult or the exception its own
        ingest would have raised; one item's refusal (no purpose, a bad part
        name) does not affect the others. A result is durable when this returns.
        """
        busy = self._outbox.backlogged()
        if busy:  # refuse before sealing anything: the sender retries later
            return [TemporaryFailure("ingest", reason=busy) for _ in news]
        results: list[IngestResult | Exception | None] = [None] * len(news)
        prepared: list[tuple[int, PreparedItem]] = []
        for i, new in enumerate(news):
            try:
                prepared.append((i, self.prepare(new)))
            except (InvalidRequest, TemporaryFailure) as exc:
                results[i] = exc
        group = [p for _, p in prepared]
        done = self.commit_group(group, actor=actor)
        outcomes = self.finish_group(done)
        self.recheck_group(done)
        for (i, _), outcome in zip(prepared, outcomes, strict=True):
            results[i] = outcome
        finished = [r for r in results if r is not None]
        assert len(finished) == len(news)
        return finished

    # -- stage 1 ----------------------------------------------------------------------------

    def prepare(self, new: NewItem) -> PreparedItem:
        """Purposes, keys, sealed parts, blobs written and fsync'd; safe in many threads.

        A re-delivery of an archived or erased item is sealed like any item and
        recognised by ``commit_group``. If no tagging rule gives the copy a
        purpose, it is recognised here instead and carries no parts
        (``redelivery``). Raises InvalidRequest (no purpose applies, reserved
        part name) or TemporaryFailure (the store or catalog failed; retry).
        """
        vault = self._vault
        now = now_utc()
        digest = hashlib.sha256(new.original).hexdigest()
        dedupe = new.dedupe_key or f"sha256:{digest}"
        tags = decide_purposes(vault.config, new, now)
        rules = vault.config.language_rules
        new.language = (decide_language(rules, new) or new.language
                        or email_language(rules, new))
        if not tags:
            # Refused, unless it is a copy of an archived (or erased) item: then its
            # recipients are merged (or it is refused as erased) like any re-delivery.
            if vault.known(dedupe) != (None, None):
                return PreparedItem("", new, len(new.original), digest, dedupe, now, [], [],
                                    {}, redelivery=True)
            raise InvalidRequest("no tagging rule gives this item a purpose; not archived")
        item_id = new_item_id()
        dek = keys.new_dek()
        try:
            wrapped = vault.wrap(dek, (t.purpose for t in tags), item_id)
        except (keys.KeysError, OSError) as exc:
            raise temporary(exc) from exc
        item = PreparedItem(item_id, new, len(new.original), digest, dedupe, now, tags, wrapped,
                            vault.subject_ids(new.parties, new.subject_ids))
        try:
            for name, data, ctype in self._parts_of(new):
                row = vault.seal_part(item_id, name, data, ctype, dek)
                if row["blob_key"]:
                    item.blobs.append(row["blob_key"])
                item.part_rows.append(row)
        except InvalidRequest:
            self.abandon(item)
            raise
        except (StoreError, OSError, keys.KeysError) as exc:
            self.abandon(item)
            raise temporary(exc) from exc
        return item

    @staticmethod
    def _parts_of(new: NewItem) -> Iterator[tuple[str, bytes, str]]:
        yield PART_ORIGINAL, new.original, new.content_type
        details = dict(new.details)
        details.setdefault("status_reason", new.status_reason)
        yield PART_DETAILS, json_bytes(details), "application/json"
        yield PART_INDEX, json_bytes(index_part(details, new.sections)), "application/json"
        for name, data in new.extra_parts.items():
            if name in RESERVED_PARTS:
                raise InvalidRequest(f"reserved part name {name!r}")
            yield name, data, "application/octet-stream"

    def abandon(self, item: PreparedItem) -> None:
        """Drop a prepared item that will not be committed (its blobs)."""
        for key in self._vault.delete_blobs(item.blobs):
            log.warning("could not remove orphan blob %s", key)
        item.blobs.clear()

    # -- stage 2 ----------------------------------------------------------------------------

    def commit_group(
        self, items: Sequence[PreparedItem], *, actor: str = SYSTEM_ACTOR
    ) -> CommittedGroup:
        """The group's one transaction: when this returns, the new items are durable (or
        have their exceptions). ``finish_group`` may run in another thread, so one group
        is indexed while the next commits."""
        done = CommittedGroup(items, actor, [None] * len(items),
                              generation=self._indexer.generation)
        now = now_utc()
        try:
            with self._vault.write() as tx:
                existing, purged = self._vault.find_known(tx.conn, [p.dedupe for p in items])
                seen: set[str] = set()
                for i, p in enumerate(items):
                    if (p.redelivery or p.dedupe in existing or p.dedupe in purged
                            or p.dedupe in seen):
                        done.later.append(i)
                    else:
                        seen.add(p.dedupe)
                        done.fresh.append(i)
                objected = self._apply_objections(tx.conn, items, done)
                group = [items[i] for i in done.fresh]
                if group:
                    self._insert_items(tx.conn, group, now)
                    for hook in self.committing:
                        hook(tx.conn, group)
                    subjects = {f.item_id: f.subjects.keys() for f in group}
                    done.held = standing.hold_by_subject(tx.conn, subjects, self._vault.config)
                    done.asked = standing.restrict_by_subject(tx.conn, subjects, now)
                    self._indexer.clear_flags(tx.conn)
                    tx.event_many([
                        {"actor": actor, "role": Role.INGEST.value, "action": "ingest",
                         "item_ids": [f.item_id],
                         "detail": {"source": f.new.source, "channel": f.new.channel.value,
                                    "purposes": [t.purpose for t in f.tags],
                                    "objected": sorted(objected.get(f.item_id, ())),
                                    "status": f.new.status.value}}
                        for f in group])
            for i in done.refused:  # refused by a standing objection: nothing stored
                self.abandon(items[i])
        except sa.exc.IntegrityError:
            # Lost a race with a concurrent delivery (another process) of one of these:
            # one by one, the loser merges into the winner.
            done.fresh, done.later = [], []
            if len(items) == 1:
                self.abandon(items[0])
                done.results[0] = self._merge_race_loser(items[0], actor)
            else:
                done.results[:] = [self.finish_group(self.commit_group([p], actor=actor))[0]
                                   for p in items]
        except (StoreError, TemporaryFailure, OSError, sa.exc.SQLAlchemyError) as exc:
            for p in items:
                self.abandon(p)
            done.fresh, done.later = [], []
            done.results[:] = [temporary(exc) for _ in items]
        return done

    @staticmethod
    def _apply_objections(
        conn: Connection, items: Sequence[PreparedItem], done: CommittedGroup
    ) -> dict[str, set[str]]:
        """Standing objections (Art. 21, 7(3)) of the new items' subjects: the objected
        purposes' tags and wrapped keys never reach the catalog, so the key is gone with
        the prepared item. An item left with no purpose is refused like one no rule
        applies to. Returns what was taken from each item."""
        objected = standing.objected_purposes(
            conn, {items[i].item_id: items[i].subjects.keys() for i in done.fresh})
        for i in list(done.fresh):
            f = items[i]
            gone = objected.get(f.item_id)
            if not gone:
                continue
            f.tags = [t for t in f.tags if t.purpose not in gone]
            f.wrapped = [w for w in f.wrapped if w.purpose not in gone]
            if not f.tags:
                done.fresh.remove(i)
                done.refused.append(i)
                done.results[i] = InvalidRequest(
                    "a data subject of this item objected to every purpose it would have "
                    f"({', '.join(sorted(gone))}); not archived", code=ErrorCode.OBJECTED)
        return objected

    def _insert_items(self, conn: Connection, fresh: Sequence[PreparedItem], now: datetime) -> None:
        """The catalog rows of new items, one statement per table for the whole group."""
        items: list[dict[str, Any]] = []
        parts: list[dict[str, Any]] = []
        parties: list[dict[str, Any]] = []
        subjects: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        wrapped: list[dict[str, Any]] = []
        restrictions: list[dict[str, Any]] = []
        for f in fresh:
            new = f.new
            unparsed = new.status is ItemStatus.UNPARSED
            transcript = TranscriptStatus.PENDING if new.transcribe else TranscriptStatus.NONE
            items.append({
                "id": f.item_id, "channel": new.channel.value, "direction": new.direction.value,
                "source": new.source, "started_at": new.started_at, "ended_at": new.ended_at,
                "ingested_at": f.prepared_at, "status": new.status.value,
                "status_reason": new.status_reason, "transcript_status": transcript.value,
                "content_type": new.content_type, "size_bytes": f.size,
                "sha256": f.digest, "dedupe_key": f.dedupe, "thread_key": new.thread_key,
                "restricted": unparsed, "index_dirty": True, "language": new.language,
            })
            if unparsed:
                # Nobody has checked what an unparsable message contains: privacy first.
                restrictions.append({
                    "item_id": f.item_id, "reason": standing.unparsed_reason(new.status_reason),
                    "created_by": SYSTEM_ACTOR, "created_at": now})
            parts.extend(f.part_rows)
            parties.extend(_party_rows(f.item_id, new.parties))
            subjects.extend({"item_id": f.item_id, "identifier": ident, "kind": kind.value}
                            for ident, kind in f.subjects.items())
            tags.extend({"item_id": f.item_id, "purpose": t.purpose,
                         "retain_until": t.retain_until} for t in f.tags)
            wrapped.extend({"item_id": f.item_id, "purpose": w.purpose,
                            "kek_version": w.version, "blob": w.blob} for w in f.wrapped)
        conn.execute(cat.items.insert(), items)
        for table, rows in ((cat.restrictions, restrictions), (cat.parts, parts),
                            (cat.parties, parties), (cat.subjects, subjects),
                            (cat.purpose_tags, tags), (cat.wrapped_keys, wrapped)):
            if rows:
                conn.execute(table.insert(), rows)

    # -- stage 3 ----------------------------------------------------------------------------

    def finish_group(self, done: CommittedGroup) -> list[IngestResult | Exception]:
        """After ``commit_group``: Object Lock, index and listeners for the new items,
        then the re-deliveries one by one; returns every item's outcome in order.
        Then ``recheck_group`` (which need not delay the answers)."""
        items = done.items
        group = [items[i] for i in done.fresh]
        if group:
            outcomes = self._after_commit(done, group)
            for i, outcome in zip(done.fresh, outcomes, strict=True):
                done.results[i] = outcome
        for i in done.later:
            done.results[i] = self._ingest_known(items[i], done.actor)
        results = [r for r in done.results if r is not None]
        assert len(results) == len(items)
        now = now_utc()
        for item, r in zip(items, results, strict=True):
            metrics.record_ingest(item.new.channel.value, None if isinstance(r, Exception)
                                  else r.created, (now - item.prepared_at).total_seconds())
        return results

    def recheck_group(self, done: CommittedGroup) -> None:
        """The group's documents were built at commit time and indexed a moment later:
        if an item was erased, restricted or held in between, fix the index now. A
        change after this check brings its own index update."""
        if done.indexed:
            self._indexer.recheck(done.indexed)

    def _after_commit(self, done: CommittedGroup, group: list[PreparedItem]) -> list[IngestResult]:
        """Object Lock for held items, the index (now, or from the outbox), the listeners:
        the items are durable."""
        docs = []
        later = self._outbox.running
        for f in group:
            held = f.item_id in done.held
            if held:
                self._vault.storage_hold(f.blobs, True)
            restricted = f.item_id in done.asked or f.new.status is ItemStatus.UNPARSED
            if later:
                self._outbox.put_new(f.item_id, f.new, f.tags, f.subjects, restricted=restricted,
                                     held=held, generation=done.generation)
            else:
                docs.append(self._indexer.document_of_new(
                    f.item_id, f.new, f.tags, f.subjects, restricted=restricted, held=held))
        if docs and self._indexer.index_docs(docs):
            done.indexed.extend(docs)
        results = []
        for f in group:
            result = IngestResult(f.item_id, True)
            for listener in self.listeners:
                try:
                    listener(result, f.new)
                except Exception:  # a listener must never undo an acknowledged ingest
                    log.exception("ingest listener failed")
            results.append(result)
        return results

    # -- re-deliveries ------------------------------------------------------------------------

    def _ingest_known(self, item: PreparedItem, actor: str) -> IngestResult | Exception:
        """A re-delivery: merge into the archived item, or refuse to revive an erased one;
        its prepared blobs are dropped either way."""
        new = item.new
        try:
            existing, purged = self._vault.known(item.dedupe)
            if existing is not None:
                self.abandon(item)
                return self._merge_duplicate(existing, new, actor)
            if purged is not None:
                self.abandon(item)
                # A late re-delivery of something erased or expired must not bring it back.
                self._vault.record_event(actor=actor, role=Role.INGEST.value,
                                         action="ingest_purged", item_ids=[purged],
                                         detail={"source": new.source})
                return IngestResult(purged, False)
        except (TemporaryFailure, OSError, sa.exc.SQLAlchemyError) as exc:
            self.abandon(item)
            return temporary(exc)
        # Known a moment ago, gone now (its tombstone expired?): a new item after all.
        if item.redelivery:  # not sealed: the sender's retry will be
            return TemporaryFailure("ingest", reason="archived copy vanished; retry")
        return self.finish_group(self.commit_group([item], actor=actor))[0]

    def _merge_race_loser(self, lost: PreparedItem, actor: str) -> IngestResult | Exception:
        try:
            winner, _ = self._vault.known(lost.dedupe)
            if winner is None:
                return TemporaryFailure("ingest", reason="dedupe race")
            return self._merge_duplicate(winner, lost.new, actor)
        except (TemporaryFailure, OSError, sa.exc.SQLAlchemyError) as exc:
            return temporary(exc)

    def _merge_duplicate(self, item_id: str, new: NewItem, actor: str) -> IngestResult:
        """A re-delivery: keep one copy, but never drop a recipient it names."""
        vault = self._vault
        with vault.write() as tx:
            have = {
                (r.role, r.address.lower())
                for r in tx.conn.execute(
                    sa.select(cat.parties.c.role, cat.parties.c.address)
                    .where(cat.parties.c.item_id == item_id)
                )
            }
            fresh = [p for p in new.parties if (p.role.value, p.address.lower()) not in have]
            rows = _party_rows(item_id, fresh)
            if rows:
                tx.conn.execute(cat.parties.insert(), rows)
            merged = len(rows)
            if merged:
                subjects = vault.subject_ids(fresh)
                _add_subjects(tx.conn, item_id, subjects)
                standing.hold_by_subject(tx.conn, {item_id: subjects.keys()}, vault.config)
                standing.restrict_by_subject(tx.conn, {item_id: subjects.keys()}, now_utc())
                objected = standing.objected_purposes(tx.conn, {item_id: subjects.keys()})
                if objected:
                    # Left with no purpose, the item is purged by the next sweep.
                    vault.shred(tx.conn, item_id, purposes=objected[item_id])
                self._indexer.mark_dirty(tx.conn, [item_id])
            tx.event(actor=actor, role=Role.INGEST.value, action="ingest_duplicate",
                     item_ids=[item_id], detail={"source": new.source, "merged_parties": merged})
        if merged:
            self._indexer.index_items([item_id])
        return IngestResult(item_id, False, merged)

