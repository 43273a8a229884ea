"""The vault: the one place that touches keys and sealed bytes.

It holds the keyring (per-purpose KEKs wrapping per-item DEKs), the catalog,
the object store and the audit log, and offers: sealing and unsealing parts,
item records, crypto-shredding and purging down to a tombstone, storage-level
legal holds, and the one audited write path (``write``: state and audit event
in one transaction, the anchor after commit). The rooms built on it (intake,
reading, indexing, transcripts, retention, holds, rights) use only these public
methods.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import keys
from archive import catalog as cat
from archive import quality_tables
from archive.anchors import AuditAnchor
from archive.anchors.memory import MemoryAnchor
from archive.audit import AuditedWrite, AuditEvent, AuditLog
from archive.catalog import Catalog
from archive.config import ArchiveConfig
from archive.errors import (
    AccessDenied,
    BlobLocked,
    BlobNotFound,
    ContentIntegrityError,
    ErrorCode,
    InvalidRequest,
    ItemNotFound,
    StoreError,
    TemporaryFailure,
)
from archive.ledger import ErasureLedger, MemoryLedger
from archive.model import (
    AddressKind,
    Channel,
    Direction,
    ItemRecord,
    ItemStatus,
    Party,
    PurposeTag,
    TranscriptStatus,
)
from archive.parties import is_subject
from archive.store import ObjectStore

log = logging.getLogger(__name__)

PART_ORIGINAL: Final = "original"
PART_DETAILS: Final = "details"
PART_INDEX: Final = "index"
PART_TRANSCRIPT: Final = "transcript"
PART_TRANSCRIPT_TEXT: Final = "transcript-text"
PART_TRANSCRIPT_INDEX: Final = "transcript-index"
#: A call's audio as 16-bit PCM WAV, derived at ingest when the original (kept
#: byte-exact) is in another format: what the player streams and bleeping edits.
PART_PLAYBACK: Final = "playback"
RESERVED_PARTS: Final = frozenset({PART_ORIGINAL, PART_DETAILS, PART_INDEX, PART_TRANSCRIPT})
#: Parts up to this size (other than the original) are sealed inline in the catalog row.
INLINE_MAX_BYTES: Final = 8 * 1024
BLOB_DELETE_THREADS: Final = 8


def json_bytes(value: Any) -> bytes:
    """How JSON parts (details, index, transcripts) are serialised before sealing."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode()


def new_item_id() -> str:
    """Time-ordered, unguessable item id."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def blob_key(item_id: str, part: str) -> str:
    """Flat per shard, so writing an item creates no directory (and needs no extra fsync)."""
    return f"items/{item_id[-2:]}/{item_id}.{part}"


class Vault:
    """Keys, catalog, store and audit log of one archive, behind public methods."""

    def __init__(
        self,
        *,
        data_dir: Path,
        config: ArchiveConfig,
        catalog: Catalog,
        store: ObjectStore,
        keyring: keys.Keyring,
        anchor: AuditAnchor | None = None,
        ledger: ErasureLedger | None = None,
    ) -> None:
        """``anchor`` and ``ledger`` live outside ``data_dir`` (the composition root
        puts them with the key provider or in S3); without them the audit anchor and
        the erasure ledger are kept in memory, good for one process only."""
        self.data_dir = data_dir
        self.config = config
        self.catalog = catalog
        self.store = store
        self.keyring = keyring
        self.ledger = ledger if ledger is not None else MemoryLedger(keyring.secret("audit"))
        self.audit = AuditLog(catalog, keyring.secret("audit"),
                              anchor if anchor is not None else MemoryAnchor(), self.ledger)
        self._dedupe_secret = keyring.secret("dedupe")

    def close(self) -> None:
        self.audit.close()
        self.keyring.close()
        self.store.close()
        self.catalog.dispose()

    # -- the audited write ---------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[AuditedWrite]:
        """A catalog write transaction whose audit events commit with it; the newest
        is anchored outside the catalog after the commit."""
        with self.catalog.write() as conn:
            tx = AuditedWrite(conn, self.audit)
            yield tx
        if tx.events:
            self.audit.anchor(tx.events[-1])

    def record_event(self, **fields: Any) -> AuditEvent:
        """An audit event in a transaction of its own."""
        return self.audit.record(**fields)

    # -- keys and sealing ------------------------------------------------------------

    def wrap(self, dek: bytes, purposes: Iterable[str], item_id: str) -> list[keys.WrappedKey]:
        """The DEK wrapped once per purpose, so dropping a purpose destroys its access."""
        return [self.keyring.wrap(dek, purpose, item_id) for purpose in purposes]

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

    def dek(self, item_id: str, purpose: str | None = None) -> bytes:
        """The item's data key, unwrapped through ``purpose`` (or any purpose it carries)."""
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

    def part_row(self, item_id: str, part: str) -> sa.Row[Any]:
        with self.catalog.read() as conn:
            row = conn.execute(
                sa.select(cat.parts).where(cat.parts.c.item_id == item_id,
                                           cat.parts.c.name == part)
            ).first()
        if row is None:
            raise InvalidRequest(f"item {item_id} has no part {part!r}", code=ErrorCode.NOT_FOUND)
        return row

    def unseal(self, item_id: str, part: str, dek: bytes, row: sa.Row[Any] | None = None,
               span: tuple[int, int] | None = None) -> bytes:
        """A part's plaintext (in memory), checked chunk by chunk; ``span``: (start, length)."""
        row = row if row is not None else self.part_row(item_id, part)
        try:
            if span is None or row.inline is not None:
                sealed = row.inline if row.inline is not None else self.store.get(row.blob_key)
                plain = bytes(keys.unseal_bytes(sealed, dek, f"{item_id}/{part}"))
                return plain if span is None else plain[span[0]:span[0] + span[1]]
            read_at = partial(self.store.get_range, row.blob_key)  # only the span's chunks
            return keys.read_sealed_range(read_at, row.sealed_size, dek, f"{item_id}/{part}", *span)
        except BlobNotFound:
            raise ContentIntegrityError(item_id, part=part, reason="blob missing") from None
        except StoreError as exc:
            raise TemporaryFailure(f"read {item_id}", reason=str(exc)) from exc
        except keys.IntegrityError as exc:
            raise ContentIntegrityError(item_id, part=part, reason=exc.reason) from None

    def unseal_for_system(self, item_id: str, part: str) -> bytes:
        """A part unsealed through any purpose the item carries: for the archive's own
        derivations (index, transcription, anonymisation, exports), never a user's read."""
        return self.unseal(item_id, part, self.dek(item_id))

    def seal_record(self, purpose: str, context: str, data: bytes) -> bytes:
        """Seal a small record of no item (a privacy case's notes) under a fresh key
        wrapped by ``purpose``'s KEK; the catalog stores it, only this class opens it."""
        self.keyring.ensure_purpose(purpose)
        dek = keys.new_dek()
        w = self.keyring.wrap(dek, purpose, context)
        head = json.dumps([w.purpose, w.version, w.blob.hex()]).encode()
        return len(head).to_bytes(2, "big") + head + bytes(keys.seal_bytes(data, dek, context))

    def unseal_record(self, context: str, sealed: bytes) -> bytes:
        size = int.from_bytes(sealed[:2], "big")
        purpose, version, blob = json.loads(sealed[2:2 + size])
        dek = self.keyring.unwrap(keys.WrappedKey(purpose, version, bytes.fromhex(blob)), context)
        return bytes(keys.unseal_bytes(sealed[2 + size:], dek, context))

    # -- records -----------------------------------------------------------------------

    def records(self, conn: Connection, ids: Sequence[str]) -> dict[str, ItemRecord]:
        """Catalog state of items (no content), by id; unknown ids are left out."""
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
            parties.setdefault(p.item_id, []).append(Party.from_row(p))
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
                language=r.language,
            )
            for r in rows
        }

    def records_of(self, ids: Sequence[str]) -> dict[str, ItemRecord]:
        """``records`` in a read transaction of its own."""
        with self.catalog.read() as conn:
            return self.records(conn, list(ids))

    def record(self, item_id: str) -> ItemRecord:
        """Catalog state of an item (no content, no audit): ItemNotFound (gone if erased)."""
        with self.catalog.read() as conn:
            found = self.records(conn, [item_id])
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
            found = self.records(conn, ids)
        return [found[i] for i in ids if i in found]

    def item_ids(self, *, where: Any = None) -> list[str]:
        stmt = sa.select(cat.items.c.id).order_by(cat.items.c.id)
        if where is not None:
            stmt = stmt.where(where)
        with self.catalog.read() as conn:
            return [str(r[0]) for r in conn.execute(stmt)]

    def live_item_ids(self, conn: Connection, ids: Iterable[str]) -> set[str]:
        """Which of these items still exist."""
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        return {str(r[0]) for r in conn.execute(
            sa.select(cat.items.c.id).where(cat.items.c.id.in_(wanted)))}

    def subject_identifiers(self, item_id: str) -> list[str]:
        with self.catalog.read() as conn:
            return [str(r[0]) for r in conn.execute(
                sa.select(cat.subjects.c.identifier).where(cat.subjects.c.item_id == item_id))]

    # -- parties and subjects -------------------------------------------------------------

    def subject_ids(
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

    # -- dedupe ---------------------------------------------------------------------------

    def dedupe_mark(self, dedupe: str) -> str:
        """Keyed hash of a dedupe key, as kept in tombstones."""
        return hmac.new(self._dedupe_secret, dedupe.encode(), hashlib.sha256).hexdigest()

    def find_known(
        self, conn: Connection, dedupes: Sequence[str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Which dedupe keys are archived already, and which were erased (key -> item id)."""
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

    def known(self, dedupe: str) -> tuple[str | None, str | None]:
        """The archived item with this dedupe key, and the erased one (item ids)."""
        with self.catalog.read() as conn:
            existing, purged = self.find_known(conn, [dedupe])
        return existing.get(dedupe), purged.get(dedupe)

    # -- shredding and purging ----------------------------------------------------------------

    def shred(self, conn: Connection, item_id: str, *,
              purposes: Iterable[str] | None = None, ledger: bool = True) -> list[str]:
        """Destroy wrapped DEKs and their purpose tags (all, or for some purposes):
        crypto-shredding, noted in the erasure ledger (not when replaying it).
        Returns the purposes whose key was destroyed."""
        stmt = sa.select(cat.wrapped_keys.c.purpose).where(cat.wrapped_keys.c.item_id == item_id)
        delete = cat.wrapped_keys.delete().where(cat.wrapped_keys.c.item_id == item_id)
        tags = cat.purpose_tags.delete().where(cat.purpose_tags.c.item_id == item_id)
        if purposes is not None:
            chosen = list(purposes)
            stmt = stmt.where(cat.wrapped_keys.c.purpose.in_(chosen))
            delete = delete.where(cat.wrapped_keys.c.purpose.in_(chosen))
            tags = tags.where(cat.purpose_tags.c.purpose.in_(chosen))
        gone = [str(r[0]) for r in conn.execute(stmt)]
        if gone and ledger:
            self.ledger.record("shred", [item_id], purposes=gone, conn=conn)
        conn.execute(delete)
        conn.execute(tags)
        quality_tables.drop_purpose_bound(conn, item_id, gone)
        return gone

    def purge_rows(
        self, conn: Connection, item_ids: Sequence[str], *, reason: str,
        reference: str | None, now: datetime, ledger: bool = True,
    ) -> list[str]:
        """Inside a write transaction: shred every key, tombstone, delete the items' rows;
        noted in the erasure ledger first (not when replaying it)."""
        rows = conn.execute(
            sa.select(cat.items.c.id, cat.items.c.channel, cat.items.c.ingested_at,
                      cat.items.c.dedupe_key)
            .where(cat.items.c.id.in_(list(item_ids)))
        ).all()
        ids = [str(r.id) for r in rows]
        if not ids:
            return ids
        if ledger:
            self.ledger.record("purge", ids, reason=reason, reference=reference, at=now, conn=conn)
        # Crypto-shredding first: with the wrapped DEKs gone the sealed blobs are noise.
        conn.execute(cat.wrapped_keys.delete().where(cat.wrapped_keys.c.item_id.in_(ids)))
        conn.execute(cat.tombstones.insert(), [
            {"item_id": r.id, "channel": r.channel, "ingested_at": r.ingested_at,
             "purged_at": now, "reason": reason, "reference": reference,
             "dedupe_mark": self.dedupe_mark(r.dedupe_key) if r.dedupe_key else None}
            for r in rows])
        # Dependent rows go with the item; deleted explicitly so backends without
        # cascading foreign keys lose them too.
        for table in (cat.parts, cat.parties, cat.subjects, cat.purpose_tags, cat.restrictions,
                      cat.disclosures, cat.item_annotations, cat.hold_items):
            conn.execute(table.delete().where(table.c.item_id.in_(ids)))
        conn.execute(cat.items.delete().where(cat.items.c.id.in_(ids)))
        return ids

    @staticmethod
    def blob_keys(conn: Connection, item_ids: Sequence[str]) -> dict[str, list[str]]:
        """The store keys of the items' blobs (parts sealed inline have none)."""
        out: dict[str, list[str]] = {i: [] for i in item_ids}
        if not item_ids:
            return out
        for row in conn.execute(
            sa.select(cat.parts.c.item_id, cat.parts.c.blob_key)
            .where(cat.parts.c.item_id.in_(list(item_ids)), cat.parts.c.blob_key.is_not(None))
        ):
            out[str(row[0])].append(str(row[1]))
        return out

    def _delete_blob(self, key: str) -> str | None:
        try:
            self.store.delete(key)
        except BlobLocked:
            # A storage-level lock left behind (e.g. an Object Lock hold not cleared):
            # the keys are gone, so the blob is noise; report it.
            return key
        except StoreError as exc:
            log.warning("could not delete blob %s: %s", key, exc)
            return key
        return None

    def delete_blobs(self, keys_: Sequence[str]) -> list[str]:
        """Delete sealed blobs (in parallel: each is a durable unlink); returns the leftovers.

        Callers have destroyed their keys (or never committed them), so a failure
        only leaves undecryptable garbage behind.
        """
        if len(keys_) <= 1:
            return [k for k in (self._delete_blob(key) for key in keys_) if k]
        with ThreadPoolExecutor(max_workers=BLOB_DELETE_THREADS) as pool:
            return [k for k in pool.map(self._delete_blob, keys_) if k]

    def storage_hold(self, keys_: Sequence[str], on: bool) -> int:
        """Set or clear the store's own legal hold (S3 Object Lock) on blobs, best effort;
        returns how many took it (0 where the store has none)."""
        done = 0
        for key in keys_:
            try:
                if not self.store.set_legal_hold(key, on):
                    return 0
            except StoreError as exc:
                log.warning("storage legal hold %s on %s failed: %s",
                            "set" if on else "clear", key, exc)
                continue
            done += 1
        return done

    def hold_cases(self, item_ids: Sequence[str]) -> dict[str, list[str]]:
        """Active holds' case references per item."""
        out: dict[str, list[str]] = {}
        if not item_ids:
            return out
        with self.catalog.read() as conn:
            for item_id, case_ref in conn.execute(
                sa.select(cat.hold_items.c.item_id, cat.holds.c.case_ref)
                .join(cat.holds, cat.holds.c.id == cat.hold_items.c.hold_id)
                .where(cat.hold_items.c.item_id.in_(list(item_ids)),
                       cat.holds.c.lifted_at.is_(None))
            ):
                out.setdefault(str(item_id), []).append(str(case_ref))
        return out
