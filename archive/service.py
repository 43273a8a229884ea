"""The archive: seal and store, authorise by role and purpose, unseal, audit.

``Archive`` is the one place that touches keys, catalog, object store and
index together; ingesters, the API and the CLI go through it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import keys
from archive import catalog as cat
from archive.anonymise import Redactor, bleep_wav, looks_identifying, pii_spans
from archive.audit import SYSTEM_ACTOR, AuditLog
from archive.catalog import Catalog
from archive.config import ArchiveConfig, Purpose, Role
from archive.errors import (
    AccessDenied,
    ContentIntegrityError,
    ErrorCode,
    InvalidRequest,
    ItemNotFound,
    TemporaryFailure,
)
from archive.index import IndexDoc, IndexError_, SearchIndex, SearchQuery, SearchResult
from archive.index.query import parse_query
from archive.model import (
    AddressKind,
    Channel,
    Direction,
    IngestResult,
    ItemRecord,
    ItemStatus,
    NewItem,
    Party,
    PartyRole,
    PurposeTag,
    Section,
    Side,
    TranscriptStatus,
)
from archive.parties import is_internal_address, is_subject, normalise_identifier, search_terms
from archive.store import BlobNotFound, ObjectStore, StoreError
from archive.tagging import decide_purposes
from archive.users import User, Users

log = logging.getLogger(__name__)

PART_ORIGINAL: Final = "original"
PART_DETAILS: Final = "details"
PART_INDEX: Final = "index"
PART_TRANSCRIPT: Final = "transcript"
INLINE_MAX_BYTES: Final = 8 * 1024
READ_ROLES: Final = frozenset({Role.QUALITY, Role.TRAINER, Role.PRIVACY, Role.LEGAL})
RESTRICTED_READERS: Final = frozenset({Role.PRIVACY, Role.LEGAL})


def new_item_id() -> str:
    """Time-ordered, unguessable item id."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def blob_key(item_id: str, part: str) -> str:
    """Flat per shard, so writing an item creates no directory (and needs no extra fsync)."""
    return f"items/{item_id[-2:]}/{item_id}.{part}"


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Content:
    item_id: str
    part: str
    data: bytes
    content_type: str
    purpose: str
    anonymised: bool = False


@dataclass(frozen=True, slots=True)
class ItemView:
    record: ItemRecord
    details: dict[str, Any]
    purpose: str | None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    disclosures: list[dict[str, Any]] = field(default_factory=list)
    #: Read through an anonymised purpose: names, addresses and disclosures withheld.
    anonymised: bool = False


@dataclass(frozen=True, slots=True)
class SearchPage:
    result: SearchResult
    records: dict[str, ItemRecord]


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
    ) -> None:
        self.data_dir = data_dir
        self.config = config
        self.catalog = catalog
        self.store = store
        self.index = index
        self.keyring = keyring
        self.users = Users(catalog)
        self.audit = AuditLog(catalog, keyring.derive("audit"), data_dir / "audit.anchor")
        self._dedupe_secret = keyring.derive("dedupe")
        # Items indexed since their dirty flag was last cleared; the flag is cleared in
        # the next write transaction that happens anyway, costing no extra fsync.
        self._indexed: set[str] = set()
        self._indexed_lock = threading.Lock()
        #: Called after each new item is durable (e.g. to wake the transcriber).
        self.ingest_listeners: list[Callable[[IngestResult, NewItem], None]] = []

    def close(self) -> None:
        self.flush_index_flags()
        self.audit.close()
        self.index.close()
        self.store.close()
        self.catalog.dispose()

    def _clear_index_flags(self, conn: Connection) -> None:
        with self._indexed_lock:
            done, self._indexed = self._indexed, set()
        if done:
            conn.execute(cat.items.update().where(cat.items.c.id.in_(sorted(done)))
                         .values(index_dirty=False))

    def mark_index_dirty(self, conn: Connection, item_ids: Sequence[str]) -> None:
        """The index must be updated for these items (their state changed in ``conn``)."""
        with self._indexed_lock:
            self._indexed.difference_update(item_ids)
        conn.execute(cat.items.update().where(cat.items.c.id.in_(list(item_ids)))
                     .values(index_dirty=True))

    def flush_index_flags(self) -> None:
        if self._indexed:
            with self.catalog.write() as conn:
                self._clear_index_flags(conn)

    # -- identities -------------------------------------------------------------

    def authenticate(self, token: str) -> User:
        return self.users.authenticate(token)

    def is_internal_address(self, address: str) -> bool:
        return is_internal_address(self.config, address)

    def normalise_subject(self, identifier: str) -> str:
        """The catalog form of a data-subject identifier (e-mail, E.164, SIP URI ...)."""
        return normalise_identifier(self.config, identifier)[1]

    def role_is_anonymised(self, role: Role) -> bool:
        """Whether everything this role may read is anonymised (e.g. trainers)."""
        if role in self.config.all_purpose_roles or role in RESTRICTED_READERS:
            return False
        names = self.config.purposes_for_role(role)
        return bool(names) and all(self.config.purpose(n).anonymised for n in names)

    # -- ingest -------------------------------------------------------------------

    def ingest(self, new: NewItem, *, actor: str = SYSTEM_ACTOR) -> IngestResult:
        """Seal and store an item; durable (blob and catalog row) when this returns.

        Anything that goes wrong before durability raises TemporaryFailure, so
        the sender retries; a re-delivery is recognised by its dedupe key.
        """
        result = self.ingest_many([new], actor=actor)[0]
        if isinstance(result, Exception):
            raise result
        return result

    def ingest_many(
        self, news: Sequence[NewItem], *, actor: str = SYSTEM_ACTOR
    ) -> list[IngestResult | Exception]:
        """Group commit: ``ingest`` for several items, one catalog transaction for all.

        Returns, in order, each item's IngestResult or the exception its own
        ``ingest`` would have raised; one item's refusal (no purpose, a bad
        part name) does not affect the others. A result is durable when this
        returns.
        """
        results: list[IngestResult | Exception | None] = [None] * len(news)
        prepared: list[tuple[int, PreparedItem]] = []
        for i, new in enumerate(news):
            try:
                prepared.append((i, self.prepare(new)))
            except (InvalidRequest, TemporaryFailure) as exc:
                results[i] = exc
        outcomes = self.commit_prepared([p for _, p in prepared], actor=actor)
        for (i, _), outcome in zip(prepared, outcomes, strict=True):
            results[i] = outcome
        done = [r for r in results if r is not None]
        assert len(done) == len(news)
        return done

    def prepare(self, new: NewItem) -> PreparedItem:
        """Ingest's first stage, safe to run in many threads at once: purposes, keys,
        sealed parts, blobs written and fsync'd. Nothing is in the catalog yet:
        ``commit_prepared`` makes it an item (or a re-delivery of one), and a crash
        in between leaves only an orphan blob of sealed bytes.

        A re-delivery of an archived or erased item is sealed like any item and
        recognised by ``commit_prepared``, which drops it and merges its recipients
        (or refuses to revive it). If no tagging rule gives the copy a purpose, it
        is recognised here instead and carries no parts (``redelivery``).

        Raises InvalidRequest (no purpose applies, reserved part name) or
        TemporaryFailure (the store or catalog failed; retry).
        """
        now = now_utc()
        digest = hashlib.sha256(new.original).hexdigest()
        dedupe = new.dedupe_key or f"sha256:{digest}"
        tags = decide_purposes(self.config, new, now)
        if not tags:
            # Refused, unless it is a copy of an archived (or erased) item: then its
            # recipients are merged (or it is refused as erased) like any re-delivery.
            if self._known(dedupe) != (None, None):
                return PreparedItem("", new, len(new.original), digest, dedupe, now, [], [],
                                    {}, redelivery=True)
            raise InvalidRequest("no tagging rule gives this item a purpose; not archived")
        item_id = new_item_id()
        dek = keys.new_dek()
        try:
            wrapped = [self.keyring.wrap(dek, t.purpose, item_id) for t in tags]
        except (keys.KeysError, OSError) as exc:
            raise _temporary(exc) from exc
        item = PreparedItem(item_id, new, len(new.original), digest, dedupe, now, tags, wrapped,
                            self._subject_ids(new.parties, new.subject_ids))
        try:
            for name, data, ctype in self._parts_of(new):
                row = self.seal_part(item_id, name, data, ctype, dek)
                if row["blob_key"]:
                    item.blobs.append(row["blob_key"])
                item.part_rows.append(row)
        except InvalidRequest:
            self.abandon(item)
            raise
        except (StoreError, OSError, keys.KeysError) as exc:
            self.abandon(item)
            raise _temporary(exc) from exc
        return item

    def abandon(self, item: PreparedItem) -> None:
        """Drop a prepared item that will not be committed (its blobs)."""
        self._discard_blobs(item.blobs)
        item.blobs.clear()

    def commit_prepared(
        self, items: Sequence[PreparedItem], *, actor: str = SYSTEM_ACTOR
    ) -> list[IngestResult | Exception]:
        """Ingest's second stage for a group: one catalog transaction (one fsync) for
        the new items, then the audit anchor, the index and the listeners.

        Returns, in order, each item's IngestResult or exception. Re-deliveries
        (archived already, erased, or twice in ``items``) are merged or refused
        one by one after the group, their prepared blobs dropped.
        """
        done = self.commit_group(items, actor=actor)
        results = self.finish_group(done)
        self.recheck_group(done)
        return results

    def commit_group(
        self, items: Sequence[PreparedItem], *, actor: str = SYSTEM_ACTOR
    ) -> CommittedGroup:
        """``commit_prepared``'s transaction: when this returns, the new items are
        durable (or have their exceptions); ``finish_group`` does the rest. The two
        may run in different threads, so one group is indexed while the next commits.
        """
        done = CommittedGroup(items, actor, [None] * len(items))
        now = now_utc()
        try:
            with self.catalog.write() as conn:
                existing, purged = self._find_known(conn, [p.dedupe for p in items])
                seen: set[str] = set()
                for i, p in enumerate(items):
                    if (p.redelivery or p.dedupe in existing or p.dedupe in purged
                            or p.dedupe in seen):
                        done.later.append(i)
                    else:
                        seen.add(p.dedupe)
                        done.fresh.append(i)
                group = [items[i] for i in done.fresh]
                if group:
                    self._insert_items(conn, group, now)
                    done.held = self._hold_by_subject(
                        conn, {f.item_id: f.subjects.keys() for f in group})
                    done.asked = self._restrict_by_subject(
                        conn, {f.item_id: f.subjects.keys() for f in group}, now)
                    self._clear_index_flags(conn)
                    events = self.audit.append_many(conn, [
                        {"actor": actor, "role": Role.INGEST.value, "action": "ingest",
                         "item_ids": [f.item_id],
                         "detail": {"source": f.new.source, "channel": f.new.channel.value,
                                    "purposes": [t.purpose for t in f.tags],
                                    "status": f.new.status.value}}
                        for f in group])
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
            return done
        except (StoreError, TemporaryFailure, OSError, sa.exc.SQLAlchemyError) as exc:
            for p in items:
                self.abandon(p)
            done.fresh, done.later = [], []
            done.results[:] = [_temporary(exc) for _ in items]
            return done
        if group:
            self.audit.anchor(events[-1])
        return done

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
        return results

    def _find_known(
        self, conn: Connection, dedupes: Sequence[str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Which dedupe keys are archived already, and which were erased (by key)."""
        marks = {self.dedupe_mark(d): d for d in dedupes}
        existing = {
            str(r.dedupe_key): str(r.id) for r in conn.execute(
                sa.select(cat.items.c.id, cat.items.c.dedupe_key)
                .where(cat.items.c.dedupe_key.in_(sorted(set(dedupes)))))
        }
        purged = {
            marks[r.dedupe_mark]: str(r.item_id) for r in conn.execute(
                sa.select(cat.tombstones.c.item_id, cat.tombstones.c.dedupe_mark)
                .where(cat.tombstones.c.dedupe_mark.in_(sorted(marks))))
        }
        return existing, purged

    def _ingest_known(self, item: PreparedItem, actor: str) -> IngestResult | Exception:
        """A re-delivery: merge into the archived item, or refuse to revive an erased one;
        its prepared blobs are dropped either way."""
        new = item.new
        try:
            existing, purged = self._known(item.dedupe)
            if existing is not None:
                self.abandon(item)
                return self._merge_duplicate(existing, new, actor)
            if purged is not None:
                self.abandon(item)
                # A late re-delivery of something erased or expired must not bring it back.
                self.audit.record(actor=actor, role=Role.INGEST.value, action="ingest_purged",
                                  item_ids=[purged], detail={"source": new.source})
                return IngestResult(purged, False)
        except (TemporaryFailure, OSError, sa.exc.SQLAlchemyError) as exc:
            self.abandon(item)
            return _temporary(exc)
        # Known a moment ago, gone now (its tombstone expired?): a new item after all.
        if item.redelivery:  # not sealed: the sender's retry will be
            return TemporaryFailure("ingest", reason="archived copy vanished; retry")
        return self.finish_group(self.commit_group([item], actor=actor))[0]

    def recheck_group(self, done: CommittedGroup) -> None:
        """The group's documents were built at commit time and indexed a moment later:
        if an item was erased, restricted or held in between (by another thread or
        process), fix the index now. A change after this check brings its own index
        update."""
        if done.indexed:
            self._recheck_indexed(done.indexed)

    def _after_commit(self, done: CommittedGroup, group: list[PreparedItem]) -> list[IngestResult]:
        """Object Lock for held items, the index, the listeners: the items are durable."""
        docs = []
        for f in group:
            held = f.item_id in done.held
            if held:
                self._lock_in_store(f.blobs)
            restricted = f.item_id in done.asked or f.new.status is ItemStatus.UNPARSED
            docs.append(self._doc_from_new(f.item_id, f.new, f.tags, f.subjects,
                                           restricted=restricted, held=held))
        if self._index_docs(docs):
            done.indexed.extend(docs)
        results = []
        for f in group:
            result = IngestResult(f.item_id, True)
            for listener in self.ingest_listeners:
                try:
                    listener(result, f.new)
                except Exception:  # a listener must never undo an acknowledged ingest
                    log.exception("ingest listener failed")
            results.append(result)
        return results

    def _recheck_indexed(self, docs: Sequence[IndexDoc]) -> None:
        ids = [d.item_id for d in docs]
        try:
            active_hold = sa.exists().where(
                cat.hold_items.c.item_id == cat.items.c.id,
                cat.holds.c.id == cat.hold_items.c.hold_id, cat.holds.c.lifted_at.is_(None))
            with self.catalog.read() as conn:
                rows = conn.execute(
                    sa.select(cat.items.c.id, cat.items.c.restricted, active_hold.label("held"))
                    .where(cat.items.c.id.in_(ids))).all()
            restricted = {str(r.id): bool(r.restricted) for r in rows}
            held = {str(r.id) for r in rows if r.held}
        except TemporaryFailure as exc:
            log.warning("could not re-check %d indexed item(s): %s", len(ids), exc.reason)
            return
        changed = []
        for doc in docs:
            if doc.item_id not in restricted:  # erased meanwhile: its text must go
                try:
                    self.index.delete(doc.item_id)
                except IndexError_ as exc:
                    log.error("erased item %s is still in the index: %s", doc.item_id, exc)
            elif (restricted[doc.item_id], doc.item_id in held) != (doc.restricted, doc.held):
                changed.append(doc.item_id)
        if changed:
            self._index_items(changed)

    def _merge_race_loser(self, lost: PreparedItem, actor: str) -> IngestResult | Exception:
        try:
            winner, _ = self._known(lost.dedupe)
            if winner is None:
                return TemporaryFailure("ingest", reason="dedupe race")
            return self._merge_duplicate(winner, lost.new, actor)
        except (TemporaryFailure, OSError, sa.exc.SQLAlchemyError) as exc:
            return _temporary(exc)

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
                "restricted": unparsed, "index_dirty": True,
            })
            if unparsed:
                # Nobody has checked what an unparsable message contains: privacy first.
                restrictions.append({
                    "item_id": f.item_id, "reason": f"unparsed: {new.status_reason or 'unknown'}",
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

    def _hold_by_subject(
        self, conn: Connection, subjects: dict[str, Iterable[str]]
    ) -> set[str]:
        """Put items (id -> their subject identifiers) under every active legal hold on
        one of their subjects; returns the ids of the items such a hold covers."""
        identifiers = sorted({s for ids in subjects.values() for s in ids})
        if not identifiers:
            return set()
        by_subject: dict[str, list[int]] = {}
        for hold_id, target in conn.execute(
            sa.select(cat.holds.c.id, cat.holds.c.target).where(
                cat.holds.c.scope == "subject", cat.holds.c.lifted_at.is_(None),
                cat.holds.c.target.in_(identifiers))):
            by_subject.setdefault(str(target), []).append(int(hold_id))
        wanted = {(h, item_id) for item_id, ids in subjects.items()
                  for s in ids for h in by_subject.get(s, ())}
        if not wanted:
            return set()
        have = {(int(h), str(i)) for h, i in conn.execute(
            sa.select(cat.hold_items.c.hold_id, cat.hold_items.c.item_id)
            .where(cat.hold_items.c.item_id.in_(sorted({i for _, i in wanted}))))}
        rows = [{"hold_id": h, "item_id": i} for h, i in sorted(wanted - have)]
        if rows:
            conn.execute(cat.hold_items.insert(), rows)
        return {i for _, i in wanted}

    def _restrict_by_subject(
        self, conn: Connection, subjects: dict[str, Iterable[str]], now: datetime
    ) -> set[str]:
        """Restrict items (id -> their subject identifiers) of subjects who asked for
        restriction (Art. 18); returns the ids of the items such a request covers."""
        identifiers = sorted({s for ids in subjects.values() for s in ids})
        if not identifiers:
            return set()
        reasons: dict[str, str] = {}
        for ident, reason in conn.execute(
            sa.select(cat.subject_restrictions.c.identifier, cat.subject_restrictions.c.reason)
            .where(cat.subject_restrictions.c.identifier.in_(identifiers),
                   cat.subject_restrictions.c.lifted_at.is_(None))
            .order_by(cat.subject_restrictions.c.id)):
            reasons.setdefault(str(ident), str(reason))
        wanted: dict[str, str] = {}
        for item_id, ids in subjects.items():
            asked = [reasons[s] for s in ids if s in reasons]
            if asked:
                wanted[item_id] = asked[0]
        if not wanted:
            return set()
        have = {(str(i), str(r)) for i, r in conn.execute(
            sa.select(cat.restrictions.c.item_id, cat.restrictions.c.reason).where(
                cat.restrictions.c.item_id.in_(sorted(wanted)),
                cat.restrictions.c.lifted_at.is_(None)))}
        rows = [{"item_id": i, "reason": r, "created_by": SYSTEM_ACTOR, "created_at": now}
                for i, r in sorted(wanted.items()) if (i, r) not in have]
        if rows:
            conn.execute(cat.restrictions.insert(), rows)
        conn.execute(cat.items.update().where(cat.items.c.id.in_(sorted(wanted)))
                     .values(restricted=True))
        return set(wanted)

    def seal_part(
        self, item_id: str, name: str, data: bytes, content_type: str, dek: bytes
    ) -> dict[str, Any]:
        """Seal one part; small parts go inline in the catalog row, others to the store.

        Returns the ``parts`` row to insert. Raises StoreError if the store fails.
        """
        context = f"{item_id}/{name}"
        if name != PART_ORIGINAL and len(data) <= INLINE_MAX_BYTES:
            sealed = keys.seal_bytes(data, dek, context)
            return {"item_id": item_id, "name": name, "blob_key": None, "inline": bytes(sealed),
                    "content_type": content_type, "plain_size": len(data),
                    "sealed_size": len(sealed)}
        key = blob_key(item_id, name)
        with self.store.writer(key) as sink:
            sealer = keys.SealingWriter(sink, dek, context)
            sealer.write(data)
            sealer.close()
        return {"item_id": item_id, "name": name, "blob_key": key, "inline": None,
                "content_type": content_type, "plain_size": len(data),
                "sealed_size": sealer.sealed_size}

    def _parts_of(self, new: NewItem) -> Iterator[tuple[str, bytes, str]]:
        yield PART_ORIGINAL, new.original, new.content_type
        details = dict(new.details)
        details.setdefault("status_reason", new.status_reason)
        yield PART_DETAILS, _json_bytes(details), "application/json"
        title = str(details.get("subject") or details.get("title") or "")
        index_part = {"title": title,
                      "sections": [_section_json(s) for s in new.sections]}
        yield PART_INDEX, _json_bytes(index_part), "application/json"
        for name, data in new.extra_parts.items():
            if name in (PART_ORIGINAL, PART_DETAILS, PART_INDEX, PART_TRANSCRIPT):
                raise InvalidRequest(f"reserved part name {name!r}")
            yield name, data, "application/octet-stream"

    def _insert_parties(self, conn: Connection, item_id: str, parties: Iterable[Party]) -> int:
        rows = _party_rows(item_id, parties)
        if rows:
            conn.execute(cat.parties.insert(), rows)
        return len(rows)

    def _subject_ids(
        self, parties: Iterable[Party], extra: Iterable[tuple[AddressKind, str]] = ()
    ) -> dict[str, AddressKind]:
        """Normalised data-subject identifiers among these parties (and extra ids)."""
        found: dict[str, AddressKind] = {}
        ids = [(p.kind, p.address) for p in parties if is_subject(self.config, p)]
        for kind, ident in [*ids, *extra]:
            norm = ident.lower() if kind in (AddressKind.EMAIL, AddressKind.SIP) else ident
            if norm:
                found.setdefault(norm, kind)
        return found

    def _insert_subjects(
        self, conn: Connection, item_id: str, subjects: dict[str, AddressKind]
    ) -> None:
        """Add data-subject identifiers to an item, skipping those it has."""
        have = {
            r[0] for r in conn.execute(
                sa.select(cat.subjects.c.identifier).where(cat.subjects.c.item_id == item_id)
            )
        }
        rows = [{"item_id": item_id, "identifier": ident, "kind": kind.value}
                for ident, kind in subjects.items() if ident not in have]
        if rows:
            conn.execute(cat.subjects.insert(), rows)

    def _lock_in_store(self, blob_keys: Sequence[str]) -> None:
        """Object Lock legal hold on the blobs (where the store has one); best effort."""
        for key in blob_keys:
            try:
                self.store.set_legal_hold(key, True)
            except StoreError as exc:
                log.warning("storage legal hold on %s failed: %s", key, exc)

    def dedupe_mark(self, dedupe: str) -> str:
        """Keyed hash of a dedupe key, as kept in tombstones."""
        return hmac.new(self._dedupe_secret, dedupe.encode(), hashlib.sha256).hexdigest()

    def _known(self, dedupe: str) -> tuple[str | None, str | None]:
        """The archived item with this dedupe key, and the erased one (item ids)."""
        with self.catalog.read() as conn:
            existing, purged = self._find_known(conn, [dedupe])
        return existing.get(dedupe), purged.get(dedupe)

    def _merge_duplicate(self, item_id: str, new: NewItem, actor: str) -> IngestResult:
        """A re-delivery: keep one copy, but never drop a recipient it names."""
        with self.catalog.write() as conn:
            have = {
                (r.role, r.address.lower())
                for r in conn.execute(
                    sa.select(cat.parties.c.role, cat.parties.c.address)
                    .where(cat.parties.c.item_id == item_id)
                )
            }
            fresh = [p for p in new.parties if (p.role.value, p.address.lower()) not in have]
            merged = self._insert_parties(conn, item_id, fresh)
            if merged:
                subjects = self._subject_ids(fresh)
                self._insert_subjects(conn, item_id, subjects)
                self._hold_by_subject(conn, {item_id: subjects.keys()})
                self._restrict_by_subject(conn, {item_id: subjects.keys()}, now_utc())
                self.mark_index_dirty(conn, [item_id])
            event = self.audit.append(
                conn, actor=actor, role=Role.INGEST.value, action="ingest_duplicate",
                item_ids=[item_id], detail={"source": new.source, "merged_parties": merged},
            )
        self.audit.anchor(event)
        if merged:
            self._index_items([item_id])
        return IngestResult(item_id, False, merged)

    def _discard_blobs(self, written: Iterable[str]) -> None:
        for key in written:
            try:
                self.store.delete(key)
            except StoreError:
                log.warning("could not remove orphan blob %s", key)

    # -- catalog reads ---------------------------------------------------------------

    def _records(self, conn: Connection, ids: Sequence[str]) -> dict[str, ItemRecord]:
        if not ids:
            return {}
        rows = conn.execute(sa.select(cat.items).where(cat.items.c.id.in_(ids))).all()
        party_rows = conn.execute(
            sa.select(cat.parties).where(cat.parties.c.item_id.in_(ids))
            .order_by(cat.parties.c.id)
        ).all()
        tag_rows = conn.execute(
            sa.select(cat.purpose_tags).where(cat.purpose_tags.c.item_id.in_(ids))
        ).all()
        held = cat.held_item_ids(conn, ids)
        parties: dict[str, list[Party]] = {}
        for p in party_rows:
            parties.setdefault(p.item_id, []).append(
                Party(PartyRole(p.role), p.address, AddressKind(p.kind), p.name, Side(p.side),
                      p.channel_index)
            )
        tags: dict[str, list[PurposeTag]] = {}
        for t in tag_rows:
            tags.setdefault(t.item_id, []).append(PurposeTag(t.purpose, t.retain_until))
        return {
            r.id: ItemRecord(
                id=r.id, channel=Channel(r.channel), direction=Direction(r.direction),
                source=r.source, started_at=r.started_at, ended_at=r.ended_at,
                ingested_at=r.ingested_at, status=ItemStatus(r.status),
                status_reason=r.status_reason,
                transcript_status=TranscriptStatus(r.transcript_status),
                content_type=r.content_type, size_bytes=r.size_bytes, sha256=r.sha256,
                restricted=bool(r.restricted), held=r.id in held, thread_key=r.thread_key,
                parties=tuple(parties.get(r.id, ())),
                purposes=tuple(sorted(tags.get(r.id, ()), key=lambda t: t.purpose)),
            )
            for r in rows
        }

    def record(self, item_id: str) -> ItemRecord:
        """Catalog state of an item (no content, no audit): for internal use."""
        with self.catalog.read() as conn:
            found = self._records(conn, [item_id])
            if item_id not in found:
                gone = conn.execute(
                    sa.select(cat.tombstones.c.item_id).where(cat.tombstones.c.item_id == item_id)
                ).first()
                raise ItemNotFound(item_id, gone=gone is not None)
        return found[item_id]

    def list_records(
        self, *, status: ItemStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[ItemRecord]:
        """Catalog records, newest first (no content; for admin and privacy review)."""
        stmt = sa.select(cat.items.c.id).order_by(cat.items.c.ingested_at.desc())
        if status is not None:
            stmt = stmt.where(cat.items.c.status == status.value)
        with self.catalog.read() as conn:
            ids = [str(r[0]) for r in conn.execute(stmt.limit(limit).offset(offset))]
            found = self._records(conn, ids)
        return [found[i] for i in ids if i in found]

    def item_ids(self, *, where: Any = None) -> list[str]:
        stmt = sa.select(cat.items.c.id).order_by(cat.items.c.id)
        if where is not None:
            stmt = stmt.where(where)
        with self.catalog.read() as conn:
            return [str(r[0]) for r in conn.execute(stmt)]

    # -- authorisation and unsealing --------------------------------------------------------

    def authorize(
        self, user: User, record: ItemRecord, purpose: str | None = None, *,
        now: datetime | None = None,
    ) -> Purpose:
        """The purpose through which ``user`` may read ``record`` (or AccessDenied)."""
        if user.role not in READ_ROLES:
            raise AccessDenied(ErrorCode.WRONG_ROLE,
                               f"role {user.role.value} may not read content",
                               item_id=record.id)
        if record.restricted and user.role not in RESTRICTED_READERS:
            raise AccessDenied(ErrorCode.RESTRICTED,
                               "item is restricted (Art. 18); only privacy and legal may read it",
                               item_id=record.id)
        now = now or now_utc()
        held = self.config.purposes_for_role(user.role)
        carried = _live_purposes(record, user.role, now)
        if purpose is not None:
            if purpose not in held:
                raise AccessDenied(ErrorCode.PURPOSE_NOT_HELD,
                                   f"role {user.role.value} does not hold purpose {purpose!r}",
                                   item_id=record.id)
            if purpose not in carried:
                raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                                   f"item does not carry purpose {purpose!r}", item_id=record.id)
            return self.config.purpose(purpose)
        usable = sorted(held & carried)
        if not usable:
            raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                               f"item carries none of the purposes of role {user.role.value}",
                               item_id=record.id)
        # Prefer a purpose that gives the full (not anonymised) view.
        usable.sort(key=lambda n: self.config.purpose(n).anonymised)
        return self.config.purpose(usable[0])

    def _dek(self, item_id: str, purpose: str | None) -> bytes:
        stmt = sa.select(cat.wrapped_keys).where(cat.wrapped_keys.c.item_id == item_id)
        if purpose is not None:
            stmt = stmt.where(cat.wrapped_keys.c.purpose == purpose)
        with self.catalog.read() as conn:
            row = conn.execute(stmt.limit(1)).first()
        if row is None:
            raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                               f"no key for item {item_id} under {purpose or 'any purpose'}",
                               item_id=item_id)
        return self.keyring.unwrap(keys.WrappedKey(row.purpose, row.kek_version, row.blob),
                                   item_id)

    def _part_row(self, item_id: str, part: str) -> sa.Row[Any]:
        with self.catalog.read() as conn:
            row = conn.execute(
                sa.select(cat.parts).where(cat.parts.c.item_id == item_id,
                                           cat.parts.c.name == part)
            ).first()
        if row is None:
            raise InvalidRequest(f"item {item_id} has no part {part!r}", code=ErrorCode.NOT_FOUND)
        return row

    def _unseal(
        self, item_id: str, part: str, dek: bytes, row: sa.Row[Any] | None = None
    ) -> bytes:
        row = row if row is not None else self._part_row(item_id, part)
        try:
            sealed = row.inline if row.inline is not None else self.store.get(row.blob_key)
        except BlobNotFound:
            raise ContentIntegrityError(item_id, part=part, reason="blob missing") from None
        except StoreError as exc:
            raise TemporaryFailure(f"read {item_id}", reason=str(exc)) from exc
        try:
            return bytes(keys.unseal_bytes(sealed, dek, f"{item_id}/{part}"))
        except keys.IntegrityError as exc:
            raise ContentIntegrityError(item_id, part=part, reason=exc.reason) from None

    def _system_unseal(self, item_id: str, part: str) -> bytes:
        return self._unseal(item_id, part, self._dek(item_id, None))

    def read_content(
        self, user: User, item_id: str, *, part: str = PART_ORIGINAL,
        purpose: str | None = None,
    ) -> Content:
        """Unseal a part for ``user`` through a purpose they hold; audited."""
        record = self.record(item_id)
        chosen = self.authorize(user, record, purpose)
        row = self._part_row(item_id, part)
        data = self._unseal(item_id, part, self._dek(item_id, chosen.name), row)
        content_type = str(row.content_type)
        anonymised = chosen.anonymised and user.role not in RESTRICTED_READERS
        if anonymised:
            data, content_type = self._anonymise(record, part, data)
        self.audit.record(
            actor=user.name, role=user.role.value, action="read", purpose=chosen.name,
            item_ids=[item_id], detail={"part": part, "anonymised": anonymised},
        )
        return Content(item_id, part, data, content_type, chosen.name, anonymised)

    def _anonymise(self, record: ItemRecord, part: str, data: bytes) -> tuple[bytes, str]:
        """The anonymised form of a part: redacted text, or audio with PII bleeped."""
        redactor = Redactor.for_parties(record.parties)
        if part == PART_ORIGINAL and record.channel is Channel.EMAIL:
            index_part = json.loads(self._system_unseal(record.id, PART_INDEX))
            text = "\n\n".join(s["text"] for s in index_part["sections"]
                               if s["kind"] in ("subject", "body"))
            return redactor.redact(text).encode(), "text/plain; charset=utf-8"
        if part == PART_TRANSCRIPT:
            transcript = json.loads(data)
            return _json_bytes(redactor.redact_json(transcript)), "application/json"
        if part == PART_ORIGINAL and record.channel is Channel.CALL:
            if record.transcript_status is not TranscriptStatus.DONE:
                raise AccessDenied(
                    ErrorCode.PURPOSE_NOT_CARRIED,
                    "anonymised audio needs the transcript to find what to bleep; "
                    f"transcript is {record.transcript_status.value}",
                    item_id=record.id,
                )
            transcript = json.loads(self._system_unseal(record.id, PART_TRANSCRIPT))
            try:
                return bleep_wav(data, pii_spans(transcript, redactor)), "audio/wav"
            except (ValueError, EOFError) as exc:
                raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                                   f"recording cannot be anonymised: {exc}",
                                   item_id=record.id) from None
        raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                           f"part {part!r} has no anonymised form", item_id=record.id)

    def get_item(self, user: User, item_id: str) -> ItemView:
        """Metadata and sealed details of an item, for a user who may read it; audited."""
        record = self.record(item_id)
        chosen = self.authorize(user, record)
        details = json.loads(self._unseal(item_id, PART_DETAILS, self._dek(item_id, chosen.name)))
        notes = self.annotations(item_id, chosen.name)
        anonymised = chosen.anonymised and user.role not in RESTRICTED_READERS
        if anonymised:
            redactor = Redactor.for_parties(record.parties)
            details = redactor.redact_json(details)
            notes = [{**n, "text": redactor.redact(n["text"]), "author": "[STAFF]"}
                     for n in notes]
        self.audit.record(actor=user.name, role=user.role.value, action="read_metadata",
                          purpose=chosen.name, item_ids=[item_id])
        return ItemView(record, details, chosen.name, annotations=notes,
                        disclosures=self.disclosures_of(item_id), anonymised=anonymised)

    def annotations(self, item_id: str, purpose: str | None = None) -> list[dict[str, Any]]:
        with self.catalog.read() as conn:
            rows = conn.execute(
                sa.select(cat.item_annotations).where(cat.item_annotations.c.item_id == item_id)
                .order_by(cat.item_annotations.c.id)
            ).all()
        if not rows:
            return []
        dek = self._dek(item_id, purpose)
        return [
            {"id": r.id, "author": r.author, "created_at": r.created_at.isoformat(),
             "text": self._unseal(item_id, r.part, dek).decode()}
            for r in rows
        ]

    def disclosures_of(self, item_id: str) -> list[dict[str, Any]]:
        with self.catalog.read() as conn:
            rows = conn.execute(
                sa.select(cat.disclosures).where(cat.disclosures.c.item_id == item_id)
                .order_by(cat.disclosures.c.id)
            ).all()
        return [
            {"recipient": r.recipient, "legal_basis": r.legal_basis,
             "disclosed_at": r.disclosed_at.isoformat(), "reference": r.reference}
            for r in rows
        ]

    # -- search ---------------------------------------------------------------------------

    def search(self, user: User, query: SearchQuery) -> SearchPage:
        """Search within what the user's role may see; snippets anonymised for trainers.

        The index is derived and may lag (a failed update leaves an item dirty), so
        every hit is checked against the catalog before anything of it is shown.
        """
        if user.role not in READ_ROLES:
            raise AccessDenied(ErrorCode.WRONG_ROLE, f"role {user.role.value} may not search")
        allowed = (None if user.role in self.config.all_purpose_roles
                   else self.config.purposes_for_role(user.role))
        wanted = query.purposes
        if wanted is not None:
            if allowed is not None and not wanted <= allowed:
                raise AccessDenied(ErrorCode.PURPOSE_NOT_HELD,
                                   f"role {user.role.value} does not hold "
                                   f"{sorted(wanted - allowed)}")
            allowed = wanted
        anonymised = self.role_is_anonymised(user.role)
        if anonymised and (query.party or query.subject or looks_identifying(query.text)):
            raise AccessDenied(ErrorCode.WRONG_ROLE,
                               "anonymised access cannot search for a person "
                               "(no party, subject, address or number terms)")
        scoped = SearchQuery(
            text=query.text, purposes=allowed,
            include_restricted=user.role in RESTRICTED_READERS and query.include_restricted,
            channel=query.channel, party=query.party, subject=query.subject,
            since=query.since, until=query.until,
            limit=max(1, min(query.limit, 200)), offset=max(0, query.offset),
        )
        try:
            result = self.index.search(scoped)
        except IndexError_ as exc:
            raise TemporaryFailure("search", reason=str(exc)) from exc
        with self.catalog.read() as conn:
            records = self._records(conn, [h.item_id for h in result.hits])
        now = now_utc()
        phrases = parse_query(query.text) if anonymised else []
        visible = []
        for hit in result.hits:
            record = records.get(hit.item_id)
            if record is None or not self._may_see(user, record, allowed, now,
                                                   include_restricted=scoped.include_restricted):
                continue
            if anonymised:
                redactor = Redactor.for_parties(record.parties)
                hit = dataclasses.replace(
                    hit, snippet=redactor.redact_snippet(hit.snippet, phrases),
                    title=redactor.redact(hit.title))
            visible.append(hit)
        hidden = len(result.hits) - len(visible)
        result = SearchResult(max(0, result.total - hidden), tuple(visible))
        if hidden:
            log.info("search: %d hit(s) the index still showed were withheld", hidden)
        self.audit.record(
            actor=user.name, role=user.role.value, action="search",
            detail={"q": query.text, "total": result.total},
            item_ids=[h.item_id for h in result.hits],
        )
        return SearchPage(result, records)

    def _may_see(
        self, user: User, record: ItemRecord, allowed: frozenset[str] | None, now: datetime,
        *, include_restricted: bool,
    ) -> bool:
        """The catalog's word on whether a search hit may be shown to this user."""
        if record.restricted and not include_restricted:
            return False
        live = _live_purposes(record, user.role, now)
        return bool(live) if allowed is None else bool(live & allowed)

    # -- indexing -------------------------------------------------------------------------

    def build_index_doc(self, item_id: str) -> IndexDoc:
        record = self.record(item_id)
        dek = self._dek(item_id, None)
        index_part = json.loads(self._unseal(item_id, PART_INDEX, dek))
        sections = [_section_from_json(s) for s in index_part["sections"]]
        if record.transcript_status is TranscriptStatus.DONE:
            transcript_index = json.loads(self._unseal(item_id, "transcript-index", dek))
            sections.extend(_section_from_json(s) for s in transcript_index["sections"])
        with self.catalog.read() as conn:
            subject_ids = [
                r[0] for r in conn.execute(
                    sa.select(cat.subjects.c.identifier)
                    .where(cat.subjects.c.item_id == item_id)
                )
            ]
        return IndexDoc(
            item_id=item_id, channel=record.channel.value, direction=record.direction.value,
            started_at=record.started_at, parties=self._party_terms(record.parties),
            subjects=tuple(subject_ids),
            purposes=tuple(sorted(record.purpose_names)), restricted=record.restricted,
            held=record.held, sections=tuple(sections), title=str(index_part.get("title", "")),
        )

    def _party_terms(self, parties: Iterable[Party]) -> tuple[str, ...]:
        terms: list[str] = []
        for party in parties:
            for term in search_terms(self.config, party):
                if term not in terms:
                    terms.append(term)
        return tuple(terms)

    def _doc_from_new(
        self, item_id: str, new: NewItem, tags: Sequence[PurposeTag],
        subjects: dict[str, AddressKind], *, restricted: bool, held: bool,
    ) -> IndexDoc:
        """The index document of a just-ingested item, from memory (no unsealing)."""
        return IndexDoc(
            item_id=item_id, channel=new.channel.value, direction=new.direction.value,
            started_at=new.started_at, parties=self._party_terms(new.parties),
            subjects=tuple(subjects), purposes=tuple(sorted(t.purpose for t in tags)),
            restricted=restricted, held=held, sections=tuple(new.sections),
            title=str(new.details.get("subject") or new.details.get("title") or ""),
        )

    def _index_docs(self, docs: Sequence[IndexDoc]) -> bool:
        """Index documents; a failure leaves the items marked dirty for a later reindex."""
        try:
            self.index.upsert(docs)
        except IndexError_ as exc:
            log.warning("indexing %d item(s) deferred: %s", len(docs), exc)
            return False
        with self._indexed_lock:
            self._indexed.update(d.item_id for d in docs)
        return True

    def _index_items(self, item_ids: Sequence[str]) -> None:
        """Bring the index up to date; a failure leaves the items marked for reindex."""
        try:
            docs = [self.build_index_doc(i) for i in item_ids]
        except (TemporaryFailure, keys.KeysError, ContentIntegrityError, ItemNotFound) as exc:
            log.warning("indexing %d item(s) deferred: %s", len(item_ids), exc)
            return
        self._index_docs(docs)

    def reindex(
        self, *, clear: bool = True, batch: int = 200,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Rebuild the derived index from the catalog and sealed content."""
        self.index.ensure()
        if clear:
            self.index.clear()
        ids = self.item_ids()
        done = 0
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            docs = []
            for item_id in chunk:
                try:
                    docs.append(self.build_index_doc(item_id))
                except (ContentIntegrityError, keys.KeysError, AccessDenied) as exc:
                    log.warning("item %s not indexed: %s", item_id, exc)
            self.index.upsert(docs)
            with self.catalog.write() as conn:
                conn.execute(cat.items.update().where(cat.items.c.id.in_(chunk))
                             .values(index_dirty=False))
            done += len(chunk)
            if progress:
                progress(len(chunk))
        return done

    def reindex_dirty(self) -> int:
        """Index whatever a failed or interrupted indexing left behind."""
        self.flush_index_flags()
        ids = self.item_ids(where=cat.items.c.index_dirty.is_(True))
        for start in range(0, len(ids), 200):
            self._index_items(ids[start : start + 200])
        self.flush_index_flags()
        return len(ids)

    # -- transcripts ------------------------------------------------------------------------

    def pending_transcripts(self, limit: int = 100) -> list[str]:
        with self.catalog.read() as conn:
            rows = conn.execute(
                sa.select(cat.items.c.id)
                .where(cat.items.c.transcript_status == TranscriptStatus.PENDING.value)
                .order_by(cat.items.c.id).limit(limit)
            ).all()
        return [str(r[0]) for r in rows]

    def load_audio_for_transcription(self, item_id: str) -> bytes:
        data = self._system_unseal(item_id, PART_ORIGINAL)
        self.audit.record(actor=SYSTEM_ACTOR, role="system", action="transcribe_read",
                          item_ids=[item_id])
        return data

    def attach_transcript(
        self, item_id: str, transcript: dict[str, Any], sections: list[Section], text: str,
    ) -> None:
        """Seal a transcript (JSON, plain text, index sections) and index it."""
        dek = self._dek(item_id, None)
        payloads = {
            PART_TRANSCRIPT: (_json_bytes(transcript), "application/json"),
            "transcript-text": (text.encode(), "text/plain; charset=utf-8"),
            "transcript-index": (
                _json_bytes({"sections": [_section_json(s) for s in sections]}),
                "application/json",
            ),
        }
        try:
            rows = [self.seal_part(item_id, name, data, ctype, dek)
                    for name, (data, ctype) in payloads.items()]
        except StoreError as exc:
            raise TemporaryFailure(f"transcript {item_id}", reason=str(exc)) from exc
        with self.catalog.write() as conn:
            conn.execute(cat.parts.delete().where(
                cat.parts.c.item_id == item_id, cat.parts.c.name.in_(list(payloads))))
            conn.execute(cat.parts.insert(), rows)
            conn.execute(cat.items.update().where(cat.items.c.id == item_id).values(
                transcript_status=TranscriptStatus.DONE.value, transcript_reason=None))
            self.mark_index_dirty(conn, [item_id])
            event = self.audit.append(conn, actor=SYSTEM_ACTOR, role="system",
                                      action="transcribe", item_ids=[item_id])
        self.audit.anchor(event)
        self._index_items([item_id])

    def mark_transcript_failed(self, item_id: str, reason: str) -> None:
        with self.catalog.write() as conn:
            conn.execute(cat.items.update().where(cat.items.c.id == item_id).values(
                transcript_status=TranscriptStatus.FAILED.value, transcript_reason=reason[:500]))
            event = self.audit.append(conn, actor=SYSTEM_ACTOR, role="system",
                                      action="transcribe_failed", item_ids=[item_id],
                                      detail={"reason": reason[:500]})
        self.audit.anchor(event)

    # -- keys ----------------------------------------------------------------------------

    def rotate_key(self, purpose: str, *, actor: str = SYSTEM_ACTOR,
                   progress: Callable[[int], None] | None = None) -> tuple[int, int]:
        """New KEK version for a purpose; re-wrap every DEK under it (content untouched)."""
        if purpose not in {p.name for p in self.config.purposes}:
            raise InvalidRequest(f"unknown purpose {purpose!r}")
        version = self.keyring.rotate(purpose)
        with self.catalog.read() as conn:
            rows = conn.execute(
                sa.select(cat.wrapped_keys).where(cat.wrapped_keys.c.purpose == purpose,
                                                  cat.wrapped_keys.c.kek_version < version)
            ).all()
        done = 0
        for start in range(0, len(rows), 500):
            batch = rows[start : start + 500]
            with self.catalog.write() as conn:
                for r in batch:
                    fresh = self.keyring.rewrap(
                        keys.WrappedKey(r.purpose, r.kek_version, r.blob), r.item_id)
                    conn.execute(
                        cat.wrapped_keys.update()
                        .where(cat.wrapped_keys.c.item_id == r.item_id,
                               cat.wrapped_keys.c.purpose == purpose)
                        .values(kek_version=fresh.version, blob=fresh.blob)
                    )
            done += len(batch)
            if progress:
                progress(len(batch))
        self.audit.record(actor=actor, role=Role.ADMIN.value, action="rotate_key",
                          purpose=purpose, detail={"version": version, "rewrapped": done})
        return version, done

    def shred(self, item_id: str, *, purposes: Iterable[str] | None = None,
              conn: Connection | None = None) -> list[str]:
        """Destroy wrapped DEKs (all, or for some purposes): crypto-shredding."""
        def _do(c: Connection) -> list[str]:
            stmt = sa.select(cat.wrapped_keys.c.purpose).where(
                cat.wrapped_keys.c.item_id == item_id)
            delete = cat.wrapped_keys.delete().where(cat.wrapped_keys.c.item_id == item_id)
            tags = cat.purpose_tags.delete().where(cat.purpose_tags.c.item_id == item_id)
            if purposes is not None:
                chosen = list(purposes)
                stmt = stmt.where(cat.wrapped_keys.c.purpose.in_(chosen))
                delete = delete.where(cat.wrapped_keys.c.purpose.in_(chosen))
                tags = tags.where(cat.purpose_tags.c.purpose.in_(chosen))
            gone = [str(r[0]) for r in c.execute(stmt)]
            c.execute(delete)
            c.execute(tags)
            return gone

        if conn is not None:
            return _do(conn)
        with self.catalog.write() as c:
            return _do(c)

    # -- health ----------------------------------------------------------------------------

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
        except IndexError_ as exc:
            status["index"] = str(exc)
        status["ok"] = all(v == "ok" for v in status.values())
        return status


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode()


def _section_json(s: Section) -> dict[str, Any]:
    return {"kind": s.kind, "text": s.text, "speaker": s.speaker, "start_s": s.start_s}


def _section_from_json(d: dict[str, Any]) -> Section:
    return Section(kind=d["kind"], text=d["text"], speaker=d.get("speaker"),
                   start_s=d.get("start_s"))


@dataclass(slots=True)
class PreparedItem:
    """A new item sealed and in the store, waiting for its catalog rows (``Archive.prepare``)."""

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
    """A group after its catalog transaction (``Archive.commit_group``)."""

    items: Sequence[PreparedItem]
    actor: str
    results: list[IngestResult | Exception | None]
    fresh: list[int] = field(default_factory=list)  # committed as new items
    later: list[int] = field(default_factory=list)  # re-deliveries, for finish_group
    held: set[str] = field(default_factory=set)
    asked: set[str] = field(default_factory=set)
    indexed: list[IndexDoc] = field(default_factory=list)  # for recheck_group


def without_original(item: PreparedItem) -> PreparedItem:
    """The prepared item without its plaintext original (sealed in the store already):
    what a worker process sends back, so the bytes are not copied back for nothing."""
    item.new = dataclasses.replace(item.new, original=b"")
    return item


def _live_purposes(record: ItemRecord, role: Role, now: datetime) -> set[str]:
    """The purposes an item still carries for ``role``: those not past retention, and
    all of them for legal and privacy while it is held (a hold preserves data for
    them; it does not extend anyone else's access)."""
    held = record.held and role in RESTRICTED_READERS
    return {t.purpose for t in record.purposes if t.retain_until > now or held}


def _temporary(exc: BaseException) -> TemporaryFailure:
    """What a sender sees for a failure before durability: retry later."""
    if isinstance(exc, TemporaryFailure):
        return exc
    failure = TemporaryFailure("ingest", reason=str(exc) or type(exc).__name__)
    failure.__cause__ = exc
    return failure


def _party_rows(item_id: str, parties: Iterable[Party]) -> list[dict[str, Any]]:
    return [
        {"item_id": item_id, "role": p.role.value, "kind": p.kind.value,
         "address": p.address, "name": p.name, "side": p.side.value,
         "channel_index": p.channel_index}
        for p in parties
    ]
