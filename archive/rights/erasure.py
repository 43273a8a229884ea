"""Erasure (Art. 17): crypto-shred and purge a subject's items, item by item.

Another person's item is never destroyed by this subject's request: an item
that only mentions the subject while other data subjects are its parties is
kept and listed (``other_subjects``) unless the officer asks otherwise. Legal
holds and legal obligations (Art. 17(3)) keep what they must, and the
certificate says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from archive.catalog import held_item_ids
from archive.errors import ErrorCode
from archive.model import now_utc
from archive.retention import PurgeReason, purge_items
from archive.rights.subjects import (
    OTHER_SUBJECTS,
    PRIVACY,
    Identifiers,
    belongs_to_others,
    find_subject,
    item_summary,
    recipients_to_notify,
)
from archive.service import Archive
from archive.standing import refresh_subject_holds


@dataclass(slots=True)
class ErasureCertificate:
    subject: str
    issued_at: datetime
    actor: str
    request_id: int | None
    erased: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    recipients_to_notify: list[dict[str, Any]] = field(default_factory=list)
    #: The subject's data outside the catalog (e.g. rejected drop-folder recordings).
    outside: list[dict[str, Any]] = field(default_factory=list)
    audit_seq: int | None = None
    #: Only what would be erased and kept: nothing was changed.
    dry_run: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "certificate": "erasure (GDPR Art. 17)" + (
                " - DRY RUN: nothing was changed" if self.dry_run else ""),
            "dry_run": self.dry_run,
            "subject": self.subject,
            "request_id": self.request_id,
            "issued_at": self.issued_at.isoformat(),
            "issued_by": self.actor,
            "method": "crypto-shredding: every wrapped data key destroyed, then sealed blobs, "
                      "index entries and catalog rows deleted; a tombstone without personal "
                      "data remains. The erasure is also written to the erasure ledger kept "
                      "with the key provider, outside the archive and its backups: restoring "
                      "a backup taken before it replays it before the archive opens",
            "erased": self.erased,
            "kept": self.kept,
            "outside_catalog": self.outside,
            "recipients_to_notify": self.recipients_to_notify,
            "audit_seq": self.audit_seq,
        }


def erase_subject(
    archive: Archive, identifier: Identifiers, *, actor: str, role: str = PRIVACY,
    request_id: int | None = None, mentions: bool = True, now: datetime | None = None,
    erase_others: bool = False, dry_run: bool = False,
) -> ErasureCertificate:
    """Crypto-shred and purge the subject's items, refusing item by item (Art. 17(3)).

    Under a legal hold an item is kept whole. An item carrying a purpose for a
    legal obligation keeps only that purpose: the others' keys are destroyed.
    An item that only mentions the subject but has another data subject as a
    party is someone else's communication: it is kept and listed for review
    (``other_subjects``) unless ``erase_others``.

    A ``dry_run`` answers the same certificate (what would be erased, what
    kept and why) without changing anything, audited as ``erase_dry_run``.
    """
    now = now or now_utc()
    match = find_subject(archive, identifier, mentions=mentions)
    ids = match.item_ids
    recipients = recipients_to_notify(archive, ids)
    cert = ErasureCertificate(match.identifier, now, actor, request_id,
                              recipients_to_notify=recipients, dry_run=dry_run)
    if dry_run:
        with archive.catalog.read() as conn:
            held = held_item_ids(conn, ids)
    else:
        with archive.catalog.write() as conn:
            refresh_subject_holds(conn, archive.config)
            held = held_item_ids(conn, ids)
    records = archive.vault.records_of(ids)
    cases = archive.vault.hold_cases(sorted(held))
    purge: list[str] = []
    partial: list[str] = []
    for item_id in ids:
        record = records.get(item_id)
        if record is None:
            continue
        summary = {**item_summary(record), "match": match.match_of(item_id)}
        if not erase_others and belongs_to_others(archive, match, record):
            cert.kept.append({**summary, "reason": OTHER_SUBJECTS,
                              "detail": "only mentions the subject; other data subjects are "
                                        "parties: review and annotate or redact instead"})
            continue
        if item_id in held:
            cert.kept.append({**summary, "reason": ErrorCode.LEGAL_HOLD.value,
                              "detail": "under legal hold: " + ", ".join(cases.get(item_id, []))})
            continue
        legal = [t for t in record.purposes
                 if t.retain_until > now and _blocks_erasure(archive, t.purpose)]
        if legal:
            drop = sorted(record.purpose_names - {t.purpose for t in legal})
            with (archive.catalog.read() if dry_run else archive.catalog.write()) as conn:
                if item_id in held_item_ids(conn, [item_id]):
                    cert.kept.append({**summary, "reason": ErrorCode.LEGAL_HOLD.value,
                                      "detail": "placed under legal hold meanwhile"})
                    continue
                if not dry_run:
                    archive.vault.shred(conn, item_id, purposes=drop)
                    archive.indexer.mark_dirty(conn, [item_id])
                    partial.append(item_id)
            cert.kept.append({
                **summary, "reason": ErrorCode.LEGAL_OBLIGATION.value,
                "detail": "kept for a legal obligation (Art. 17(3)(b)) until "
                          + max(t.retain_until for t in legal).isoformat(),
                "kept_purposes": sorted(t.purpose for t in legal),
                "purposes_erased": drop,
            })
            continue
        purge.append(item_id)
    if partial:
        archive.indexer.index_items(partial)
    failed: list[tuple[str, str]] = []
    if dry_run:
        purged = list(purge)
    else:
        purged, failed, _ = purge_items(
            archive, purge, reason=PurgeReason.ERASURE, actor=actor, role=role,
            subject=match.identifier, reference=str(request_id) if request_id else None,
            now=now,
        )
    done = set(purged)
    for item_id in purge:
        record = records[item_id]
        summary = {**item_summary(record), "match": match.match_of(item_id)}
        if item_id in done:
            cert.erased.append(summary)
    for item_id, why in failed:
        summary = {**item_summary(records[item_id]), "match": match.match_of(item_id)}
        cert.kept.append({**summary, "reason": why, "detail": "not erased; retry"})
    if not dry_run:
        for erase_outside in archive.outside_erasers:
            cert.outside.append(erase_outside(list(match.identifiers or (match.identifier,)),
                                              actor))
    event = archive.vault.record_event(
        actor=actor, role=role, action="erase_dry_run" if dry_run else "erase",
        subject=match.identifier,
        item_ids=[e["item_id"] for e in cert.erased],
        detail={"request_id": request_id, "erased": len(cert.erased),
                "identifiers": list(match.identifiers),
                "kept": [{"item_id": k["item_id"], "reason": k["reason"]} for k in cert.kept],
                "recipients": [r["recipient"] for r in recipients]},
    )
    cert.audit_seq = event.seq
    if not dry_run:
        archive.catalog.checkpoint()
    return cert


def _blocks_erasure(archive: Archive, purpose: str) -> bool:
    try:
        return archive.config.purpose(purpose).blocks_erasure
    except KeyError:
        return False
