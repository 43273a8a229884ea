"""Retention per purpose: the sweeper, and purging an item down to a tombstone.

A purpose tag whose ``retain_until`` has passed is dropped by destroying that
purpose's wrapped DEK, so the roles behind it lose access cryptographically.
When an item has no purpose left it is purged: keys, index document, catalog
rows and blobs go; a tombstone without personal data stays. An active legal
hold blocks both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import catalog as cat
from archive.catalog import held_item_ids
from archive.errors import ErrorCode
from archive.index import IndexError_
from archive.service import Archive, now_utc
from archive.store import BlobLocked, StoreError

log = logging.getLogger(__name__)

SWEEP_BATCH_ITEMS: Final = 200
BLOB_DELETE_THREADS: Final = 8
SWEEP_ROLE: Final = "system"


class PurgeReason:
    """Why an item was purged (kept in its tombstone; never personal data)."""

    RETENTION: Final = "retention"
    ERASURE: Final = "erasure"
    OBJECTION: Final = "objection"


@dataclass(slots=True)
class SweepReport:
    now: datetime
    dry_run: bool
    #: Items that had at least one expired tag (or none left at all).
    examined: int = 0
    #: (item id, purpose) whose tag and wrapped key were (or would be) destroyed.
    dropped: list[tuple[str, str]] = field(default_factory=list)
    #: Items purged (or that would be) because no purpose was left.
    purged: list[str] = field(default_factory=list)
    #: Items with expired tags kept because of an active legal hold.
    held: list[str] = field(default_factory=list)
    #: (item id, reason) that could not be processed this round; retried next sweep.
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    audit_seq: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "examined": self.examined,
            "dropped": [{"item_id": i, "purpose": p} for i, p in self.dropped],
            "purged": list(self.purged),
            "held": list(self.held),
            "failed": [{"item_id": i, "reason": r} for i, r in self.failed],
            "seconds": round(self.seconds, 3),
            "items_per_second": round(self.examined / self.seconds, 1) if self.seconds else None,
            "audit_seq": self.audit_seq,
        }


def refresh_subject_holds(conn: Connection) -> int:
    """Bring subject-scoped holds up to date with items archived since they were placed."""
    active = conn.execute(
        sa.select(cat.holds.c.id, cat.holds.c.target)
        .where(cat.holds.c.scope == "subject", cat.holds.c.lifted_at.is_(None))
    ).all()
    added = 0
    for hold_id, subject in active:
        have = sa.select(cat.hold_items.c.item_id).where(cat.hold_items.c.hold_id == hold_id)
        fresh = conn.execute(
            sa.select(cat.subjects.c.item_id).distinct()
            .where(cat.subjects.c.identifier == subject, cat.subjects.c.item_id.not_in(have))
        ).all()
        if fresh:
            conn.execute(cat.hold_items.insert(),
                         [{"hold_id": hold_id, "item_id": r[0]} for r in fresh])
            added += len(fresh)
    return added


def _blob_keys(conn: Connection, item_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in item_ids}
    for row in conn.execute(
        sa.select(cat.parts.c.item_id, cat.parts.c.blob_key)
        .where(cat.parts.c.item_id.in_(list(item_ids)), cat.parts.c.blob_key.is_not(None))
    ):
        out[str(row[0])].append(str(row[1]))
    return out


def _purge_rows(
    conn: Connection, item_ids: Sequence[str], *, reason: str, reference: str | None,
    now: datetime, dedupe_mark: Callable[[str], str],
) -> list[str]:
    """Inside a write transaction: shred every key, tombstone, delete the items' rows."""
    rows = conn.execute(
        sa.select(cat.items.c.id, cat.items.c.channel, cat.items.c.ingested_at,
                  cat.items.c.dedupe_key)
        .where(cat.items.c.id.in_(list(item_ids)))
    ).all()
    ids = [str(r.id) for r in rows]
    if not ids:
        return ids
    # Crypto-shredding first: with the wrapped DEKs gone the sealed blobs are noise.
    conn.execute(cat.wrapped_keys.delete().where(cat.wrapped_keys.c.item_id.in_(ids)))
    conn.execute(cat.tombstones.insert(), [
        {"item_id": r.id, "channel": r.channel, "ingested_at": r.ingested_at,
         "purged_at": now, "reason": reason, "reference": reference,
         "dedupe_mark": dedupe_mark(r.dedupe_key) if r.dedupe_key else None} for r in rows])
    # Dependent rows go with the item; deleted explicitly so backends without
    # cascading foreign keys lose them too.
    for table in (cat.parts, cat.parties, cat.subjects, cat.purpose_tags, cat.restrictions,
                  cat.disclosures, cat.item_annotations, cat.hold_items):
        conn.execute(table.delete().where(table.c.item_id.in_(ids)))
    conn.execute(cat.items.delete().where(cat.items.c.id.in_(ids)))
    return ids


def _delete_one(archive: Archive, key: str) -> str | None:
    try:
        archive.store.delete(key)
    except BlobLocked:
        # A storage-level lock left behind (e.g. an Object Lock hold not cleared):
        # the keys are gone, so the blob is noise; report it.
        return key
    except StoreError as exc:
        log.warning("could not delete blob %s: %s", key, exc)
        return key
    return None


def _delete_blobs(archive: Archive, keys: Sequence[str]) -> list[str]:
    """Delete sealed blobs (in parallel: each is a durable unlink); returns the leftovers.

    They are undecryptable already, so a failure only leaves garbage behind.
    """
    if len(keys) <= 1:
        return [k for k in (_delete_one(archive, key) for key in keys) if k]
    with ThreadPoolExecutor(max_workers=BLOB_DELETE_THREADS) as pool:
        return [k for k in pool.map(lambda key: _delete_one(archive, key), keys) if k]


def _drop_index_docs(archive: Archive, item_ids: Iterable[str]) -> list[tuple[str, str]]:
    """The index is the only plaintext at rest: it goes first, or the purge waits."""
    failed: list[tuple[str, str]] = []
    for item_id in item_ids:
        try:
            archive.index.delete(item_id)
        except IndexError_ as exc:
            failed.append((item_id, f"index: {exc}"))
    return failed


def purge_items(
    archive: Archive,
    item_ids: Sequence[str],
    *,
    reason: str,
    actor: str,
    role: str,
    subject: str | None = None,
    reference: str | None = None,
    purpose: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
    checkpoint: bool = True,
) -> tuple[list[str], list[tuple[str, str]], int | None]:
    """Purge items (never held ones); returns (purged, failed, audit seq of the event).

    Order: index documents first (the plaintext), then keys, rows and tombstones
    in one transaction with one audit event, then the blobs, then a WAL
    checkpoint so no stale page with a wrapped key survives in the WAL.
    """
    now = now or now_utc()
    with archive.catalog.read() as conn:
        held_before = held_item_ids(conn, item_ids)
    failed = [(i, ErrorCode.LEGAL_HOLD.value) for i in item_ids if i in held_before]
    failed += _drop_index_docs(archive, [i for i in item_ids if i not in held_before])
    bad = {i for i, _ in failed}
    candidates = [i for i in item_ids if i not in bad]
    purged: list[str] = []
    seq: int | None = None
    if not candidates:
        return purged, failed, seq
    with archive.catalog.write() as conn:
        refresh_subject_holds(conn)
        held = held_item_ids(conn, candidates)
        for item_id in candidates:
            if item_id in held:
                failed.append((item_id, ErrorCode.LEGAL_HOLD.value))
        todo = [i for i in candidates if i not in held]
        if held:
            archive.mark_index_dirty(conn, sorted(held))
        blobs = _blob_keys(conn, todo)
        purged = _purge_rows(conn, todo, reason=reason, reference=reference, now=now,
                             dedupe_mark=archive.dedupe_mark)
        event = None
        if purged:
            event = archive.audit.append(
                conn, actor=actor, role=role, action="purge", purpose=purpose,
                item_ids=purged, subject=subject,
                detail={"reason": reason, "reference": reference, **(detail or {})},
            )
    if event is not None:
        archive.audit.anchor(event)
        seq = event.seq
    # Held items whose index doc we removed get it back.
    if held:
        archive._index_items(sorted(held))
    leftovers = _delete_blobs(archive, [k for i in purged for k in blobs.get(i, [])])
    if leftovers:
        log.warning("%d item(s) purged; %d sealed blob(s) left behind", len(purged),
                    len(leftovers))
    if purged and checkpoint:
        archive.catalog.checkpoint()
    return purged, failed, seq


def _due(conn: Connection, now: datetime) -> dict[str, list[str]]:
    """Items with expired tags (purpose lists), plus items with no tag at all."""
    due: dict[str, list[str]] = {}
    for item_id, purpose in conn.execute(
        sa.select(cat.purpose_tags.c.item_id, cat.purpose_tags.c.purpose)
        .where(cat.purpose_tags.c.retain_until <= now)
        .order_by(cat.purpose_tags.c.item_id, cat.purpose_tags.c.purpose)
    ):
        due.setdefault(str(item_id), []).append(str(purpose))
    untagged = conn.execute(
        sa.select(cat.items.c.id).where(
            ~sa.exists().where(cat.purpose_tags.c.item_id == cat.items.c.id))
    ).all()
    for (item_id,) in untagged:
        due.setdefault(str(item_id), [])
    return dict(sorted(due.items()))


def count_due(archive: Archive, *, now: datetime | None = None) -> int:
    """How many items a sweep at ``now`` would look at (for progress bars)."""
    with archive.catalog.read() as conn:
        return len(_due(conn, now or now_utc()))


def sweep(
    archive: Archive,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: str = "sweeper",
    progress: Callable[[int], None] | None = None,
    batch: int = SWEEP_BATCH_ITEMS,
) -> SweepReport:
    """Drop expired purpose tags (destroying their keys) and purge items left with none."""
    started = time.perf_counter()
    now = now or now_utc()
    report = SweepReport(now=now, dry_run=dry_run)
    with archive.catalog.read() as conn:
        due = _due(conn, now)
        held = held_item_ids(conn, due) if due else set()
    if not dry_run and due:
        with archive.catalog.write() as conn:
            if refresh_subject_holds(conn):
                held = held_item_ids(conn, due)
    report.examined = len(due)
    ids = list(due)
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        _sweep_chunk(archive, chunk, due, held, report, actor=actor, now=now, dry_run=dry_run)
        if progress:
            progress(len(chunk))
    if not dry_run and (report.dropped or report.purged):
        event = archive.audit.record(
            actor=actor, role=SWEEP_ROLE, action="sweep",
            item_ids=sorted({i for i, _ in report.dropped} | set(report.purged)),
            detail={"now": now.isoformat(), "dropped": len(report.dropped),
                    "purged": len(report.purged), "held": len(report.held)},
        )
        report.audit_seq = event.seq
        archive.catalog.checkpoint()
    report.seconds = time.perf_counter() - started
    return report


def _sweep_chunk(
    archive: Archive, chunk: Sequence[str], due: dict[str, list[str]], held: set[str],
    report: SweepReport, *, actor: str, now: datetime, dry_run: bool,
) -> None:
    with archive.catalog.read() as conn:
        carried: dict[str, set[str]] = {}
        for item_id, purpose in conn.execute(
            sa.select(cat.purpose_tags.c.item_id, cat.purpose_tags.c.purpose)
            .where(cat.purpose_tags.c.item_id.in_(list(chunk)))
        ):
            carried.setdefault(str(item_id), set()).add(str(purpose))
    to_drop: dict[str, list[str]] = {}
    to_purge: list[str] = []
    for item_id in chunk:
        if item_id in held:
            report.held.append(item_id)
            continue
        expired = due[item_id]
        left = carried.get(item_id, set()) - set(expired)
        if left:
            to_drop[item_id] = expired
        else:
            to_purge.append(item_id)
    if dry_run:
        for item_id, purposes in to_drop.items():
            report.dropped.extend((item_id, p) for p in purposes)
        for item_id in to_purge:
            report.dropped.extend((item_id, p) for p in due[item_id])
            report.purged.append(item_id)
        return
    if to_drop:
        dropped_now: list[str] = []
        last_event = None
        with archive.catalog.write() as conn:
            still_held = held_item_ids(conn, to_drop)
            for item_id, purposes in to_drop.items():
                if item_id in still_held:
                    report.held.append(item_id)
                    continue
                gone = archive.shred(item_id, purposes=purposes, conn=conn)
                for purpose in purposes:
                    report.dropped.append((item_id, purpose))
                    last_event = archive.audit.append(
                        conn, actor=actor, role=SWEEP_ROLE, action="retention_drop",
                        purpose=purpose, item_ids=[item_id],
                        detail={"now": now.isoformat(), "key_destroyed": purpose in gone},
                    )
                dropped_now.append(item_id)
            if dropped_now:
                archive.mark_index_dirty(conn, dropped_now)
        if last_event is not None:
            archive.audit.anchor(last_event)
        if dropped_now:
            archive._index_items(dropped_now)
    if to_purge:
        purged, failed, _seq = purge_items(
            archive, to_purge, reason=PurgeReason.RETENTION, actor=actor, role=SWEEP_ROLE,
            detail={"now": now.isoformat()}, now=now, checkpoint=False,
        )
        purged_set = set(purged)
        for item_id in to_purge:
            if item_id in purged_set:
                report.dropped.extend((item_id, p) for p in due[item_id])
        report.purged.extend(purged)
        for item_id, why in failed:
            if why == ErrorCode.LEGAL_HOLD.value:
                report.held.append(item_id)
            else:
                report.failed.append((item_id, why))
