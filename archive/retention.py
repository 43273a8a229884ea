"""Retention per purpose: the sweeper, and purging an item down to a tombstone.

A purpose tag whose ``retain_until`` has passed is dropped by destroying that
purpose's wrapped DEK, so the roles behind it lose access cryptographically.
When an item has no purpose left it is purged: keys, index document, catalog
rows and blobs go; a tombstone without personal data stays. An active legal
hold blocks both; so does a data subject's restriction (Art. 18: stored, not
processed), until it is lifted and the next sweep takes the item.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import catalog as cat
from archive import metrics
from archive.catalog import held_item_ids
from archive.errors import ErrorCode
from archive.model import now_utc
from archive.service import Archive
from archive.standing import refresh_subject_holds, restricted_by_request

log = logging.getLogger(__name__)

SWEEP_BATCH_ITEMS: Final = 200
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
    #: Items with expired tags left alone because of a restriction (Art. 18).
    restricted: list[str] = field(default_factory=list)
    #: (item id, reason) that could not be processed this round; retried next sweep.
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    audit_seq: int | None = None
    #: What the archive's outside sweepers did (material that is not an item,
    #: such as rejected drop-folder recordings): one entry per sweeper.
    outside: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "examined": self.examined,
            "dropped": [{"item_id": i, "purpose": p} for i, p in self.dropped],
            "purged": list(self.purged),
            "held": list(self.held),
            "restricted": list(self.restricted),
            "failed": [{"item_id": i, "reason": r} for i, r in self.failed],
            "seconds": round(self.seconds, 3),
            "items_per_second": round(self.examined / self.seconds, 1) if self.seconds else None,
            "audit_seq": self.audit_seq,
            "outside": list(self.outside),
        }


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
    failed += archive.indexer.drop([i for i in item_ids if i not in held_before])
    bad = {i for i, _ in failed}
    candidates = [i for i in item_ids if i not in bad]
    purged: list[str] = []
    seq: int | None = None
    if not candidates:
        return purged, failed, seq
    with archive.vault.write() as tx:
        conn = tx.conn
        refresh_subject_holds(conn, archive.config)
        held = held_item_ids(conn, candidates)
        for item_id in candidates:
            if item_id in held:
                failed.append((item_id, ErrorCode.LEGAL_HOLD.value))
        todo = [i for i in candidates if i not in held]
        if held:
            archive.indexer.mark_dirty(conn, sorted(held))
        blobs = archive.vault.blob_keys(conn, todo)
        purged = archive.vault.purge_rows(conn, todo, reason=reason, reference=reference,
                                          now=now)
        if purged:
            seq = tx.event(
                actor=actor, role=role, action="purge", purpose=purpose,
                item_ids=purged, subject=subject,
                detail={"reason": reason, "reference": reference, **(detail or {})},
            ).seq
    # Held items whose index doc we removed get it back.
    if held:
        archive.indexer.index_items(sorted(held))
    leftovers = archive.vault.delete_blobs([k for i in purged for k in blobs.get(i, [])])
    if leftovers:
        log.warning("%d item(s) purged; %d sealed blob(s) left behind", len(purged),
                    len(leftovers))
    if purged and checkpoint:
        archive.catalog.checkpoint()
    metrics.PURGED.labels(reason).inc(len(purged))
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
    """Drop expired purpose tags (destroying their keys) and purge items left with none.

    One sweep at a time across every node on the catalog (a second waits, then
    finds what the first did already done); a dry run changes nothing and needs
    no turn.
    """
    if dry_run:
        return _sweep(archive, now=now, dry_run=True, actor=actor, progress=progress,
                      batch=batch)
    with archive.catalog.exclusive("sweep"):
        return _sweep(archive, now=now, dry_run=False, actor=actor, progress=progress,
                      batch=batch)


def _sweep(
    archive: Archive, *, now: datetime | None, dry_run: bool, actor: str,
    progress: Callable[[int], None] | None, batch: int,
) -> SweepReport:
    started = time.perf_counter()
    now = now or now_utc()
    report = SweepReport(now=now, dry_run=dry_run)
    with archive.catalog.read() as conn:
        due = _due(conn, now)
        held = held_item_ids(conn, due) if due else set()
    if not dry_run and due:
        with archive.catalog.write() as conn:
            if refresh_subject_holds(conn, archive.config):
                held = held_item_ids(conn, due)
    report.examined = len(due)
    ids = list(due)
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        _sweep_chunk(archive, chunk, due, held, report, actor=actor, now=now, dry_run=dry_run)
        if progress:
            progress(len(chunk))
    if not dry_run and (report.dropped or report.purged):
        event = archive.vault.record_event(
            actor=actor, role=SWEEP_ROLE, action="sweep",
            item_ids=sorted({i for i, _ in report.dropped} | set(report.purged)),
            detail={"now": now.isoformat(), "dropped": len(report.dropped),
                    "purged": len(report.purged), "held": len(report.held),
                    "restricted": len(report.restricted)},
        )
        report.audit_seq = event.seq
        archive.catalog.checkpoint()
    for sweep_outside in archive.outside_sweepers:
        report.outside.append(sweep_outside(now, dry_run, actor))
    report.seconds = time.perf_counter() - started
    if not dry_run:
        metrics.SWEEPS.inc()
        metrics.SWEEP_TAGS_DROPPED.inc(len(report.dropped))
    return report


def _sweep_chunk(
    archive: Archive, chunk: Sequence[str], due: dict[str, list[str]], held: set[str],
    report: SweepReport, *, actor: str, now: datetime, dry_run: bool,
) -> None:
    """One batch; held and restricted items are reported and left as they are."""
    with archive.catalog.read() as conn:
        restricted = restricted_by_request(conn, chunk)
        carried: dict[str, set[str]] = {}
        for item_id, purpose in conn.execute(
            sa.select(cat.purpose_tags.c.item_id, cat.purpose_tags.c.purpose)
            .where(cat.purpose_tags.c.item_id.in_(list(chunk)))
        ):
            carried.setdefault(str(item_id), set()).add(str(purpose))
    to_drop: dict[str, list[str]] = {}
    to_purge: list[str] = []
    for item_id in chunk:
        if item_id in restricted:
            report.restricted.append(item_id)
            continue
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
        with archive.vault.write() as tx:
            conn = tx.conn
            still_held = held_item_ids(conn, to_drop)
            now_restricted = restricted_by_request(conn, to_drop)
            for item_id, purposes in to_drop.items():
                if item_id in now_restricted:
                    report.restricted.append(item_id)
                    continue
                if item_id in still_held:
                    report.held.append(item_id)
                    continue
                gone = archive.vault.shred(conn, item_id, purposes=purposes)
                for purpose in purposes:
                    report.dropped.append((item_id, purpose))
                    tx.event(
                        actor=actor, role=SWEEP_ROLE, action="retention_drop",
                        purpose=purpose, item_ids=[item_id],
                        detail={"now": now.isoformat(), "key_destroyed": purpose in gone},
                    )
                dropped_now.append(item_id)
            if dropped_now:
                archive.indexer.mark_dirty(conn, dropped_now)
        if dropped_now:
            archive.indexer.index_items(dropped_now)
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
