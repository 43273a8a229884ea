"""Legal's evidence: bundles of originals with their chain of custody, and disclosures
made under a hold.

A bundle is a ZIP built in memory (nothing of it touches the archive's disk): each
selected item's original, byte-exact as ingested (read through the legal role's
purpose, so audited like any read), its chain of custody (when and from which
source and channel it was ingested, its SHA-256 at ingest, every audit event that
names it, with the events' chain hashes), a manifest with the SHA-256 and size of
every file, and the SHA-256 of the manifest. :mod:`archive.evidence.verify` checks
one offline. Building one is audited as ``evidence_export``.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from archive import holds, rights
from archive.errors import ContentIntegrityError, InvalidRequest
from archive.evidence.tables import hold_disclosures
from archive.evidence.verify import FORMAT, MANIFEST, MANIFEST_DIGEST, README, sha256_hex
from archive.model import now_utc
from archive.service import Archive
from archive.users import User

#: Most audit events listed per item in its chain of custody.
CUSTODY_MAX_EVENTS: Final = 100_000
_EXTENSIONS: Final = {"message/rfc822": ".eml", "audio/wav": ".wav", "audio/x-wav": ".wav",
                      "audio/mpeg": ".mp3", "audio/flac": ".flac", "audio/ogg": ".ogg"}
_README_TEXT: Final = """Evidence bundle made by commarchive.

manifest.json   every file of this bundle with its SHA-256 and size, the items with
                their chain of custody, who made the bundle, when and for which hold
manifest.sha256 the SHA-256 of manifest.json
originals/      each item's original, byte-exact as it was received
custody/        per item: ingest time, source and channel, SHA-256 at ingest, and
                every access recorded in the archive's audit log (with its chain hash)

Verify it offline (no archive and no keys needed):

    commarchive evidence verify BUNDLE.zip

or by hand: `sha256sum manifest.json` must print the value in manifest.sha256, and
each file's SHA-256 must be the one manifest.json lists for it.
"""


@dataclass(frozen=True, slots=True)
class Bundle:
    data: bytes
    bundle_id: str
    manifest_sha256: str
    item_ids: list[str]
    audit_seq: int


def _custody(archive: Archive, item_id: str) -> list[dict[str, Any]]:
    events = archive.audit.events(item_id=item_id, limit=CUSTODY_MAX_EVENTS)
    return [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "role": e.role,
             "action": e.action, "purpose": e.purpose, "hash": e.hash}
            for e in sorted(events, key=lambda e: e.seq)]


def build_bundle(archive: Archive, user: User, item_ids: Sequence[str], *,
                 hold_id: int | None = None, note: str | None = None,
                 now: datetime | None = None) -> Bundle:
    """The ZIP of ``item_ids`` (default with a hold: all its items); refused naming the
    first item the user may not read, or whose original no longer matches its ingest hash."""
    now = now or now_utc()
    hold = holds.get_hold(archive, hold_id) if hold_id is not None else None
    ids = sorted(set(item_ids)) if item_ids else (list(hold.item_ids) if hold else [])
    if not ids:
        raise InvalidRequest("an evidence bundle needs at least one item")
    if hold is not None:
        outside = [i for i in ids if i not in hold.item_ids]
        if outside:
            raise InvalidRequest(f"item(s) not under hold {hold.id}: {', '.join(outside)}")
    bundle_id = str(uuid.uuid4())
    files: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for item_id in ids:
            record = archive.record(item_id)
            content = archive.read_content(user, item_id)
            digest = sha256_hex(content.data)
            if digest != record.sha256:
                raise ContentIntegrityError(item_id, part="original",
                                            reason="its SHA-256 differs from the one at ingest")
            original = f"originals/{item_id}{_EXTENSIONS.get(record.content_type, '.bin')}"
            custody_path = f"custody/{item_id}.json"
            custody = {
                "item_id": item_id, "channel": record.channel.value, "source": record.source,
                "direction": record.direction.value, "started_at": record.started_at.isoformat(),
                "ingested_at": record.ingested_at.isoformat(), "content_type": record.content_type,
                "sha256_at_ingest": record.sha256, "original": original,
                "accesses": _custody(archive, item_id),
            }
            custody_bytes = json.dumps(custody, indent=2, ensure_ascii=False).encode()
            for path, data in ((original, content.data), (custody_path, custody_bytes)):
                zf.writestr(path, data)
                files.append({"path": path, "sha256": sha256_hex(data), "size": len(data),
                              "item_id": item_id})
            items.append({"item_id": item_id, "channel": record.channel.value,
                          "source": record.source, "ingested_at": record.ingested_at.isoformat(),
                          "sha256": digest, "original": original, "custody": custody_path})
        manifest = {
            "format": FORMAT, "bundle_id": bundle_id, "created_at": now.isoformat(),
            "created_by": {"name": user.name, "role": user.role.value}, "note": note,
            "hold": hold.public() if hold else None, "items": items, "files": files,
        }
        manifest_bytes = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
        manifest_sha = sha256_hex(manifest_bytes)
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr(MANIFEST_DIGEST, f"{manifest_sha}  {MANIFEST}\n")
        zf.writestr(README, _README_TEXT)
    event = archive.vault.record_event(
        actor=user.name, role=user.role.value, action="evidence_export", item_ids=ids,
        detail={"bundle_id": bundle_id, "manifest_sha256": manifest_sha, "hold_id": hold_id,
                "note": note})
    return Bundle(buf.getvalue(), bundle_id, manifest_sha, ids, event.seq)


# -- disclosures under a hold ----------------------------------------------------------------


def record_hold_disclosure(
    archive: Archive, hold_id: int, *, recipient: str, legal_basis: str, actor: str,
    role: str, item_ids: Sequence[str] | None = None, reference: str | None = None,
    disclosed_at: datetime | None = None,
) -> dict[str, Any]:
    """Record that items under a hold (default: all of them) went to an authority."""
    hold = holds.get_hold(archive, hold_id)
    ids = sorted(set(item_ids)) if item_ids else list(hold.item_ids)
    outside = [i for i in ids if i not in hold.item_ids]
    if outside:
        raise InvalidRequest(f"item(s) not under hold {hold_id}: {', '.join(outside)}")
    done = rights.record_disclosure(archive, ids, recipient=recipient, legal_basis=legal_basis,
                                    actor=actor, role=role, disclosed_at=disclosed_at,
                                    reference=reference or hold.case_ref)
    with archive.catalog.write() as conn:
        conn.execute(hold_disclosures.insert().values(
            hold_id=hold_id, recipient=recipient, legal_basis=legal_basis,
            reference=done["reference"], disclosed_at=datetime.fromisoformat(
                done["disclosed_at"]), recorded_by=actor, item_ids=json.dumps(ids),
            audit_seq=done["audit_seq"]))
    return {**done, "hold_id": hold_id}


def list_hold_disclosures(archive: Archive, hold_id: int) -> list[dict[str, Any]]:
    holds.get_hold(archive, hold_id)  # 404 for an unknown hold
    with archive.catalog.read() as conn:
        rows = conn.execute(sa.select(hold_disclosures).where(
            hold_disclosures.c.hold_id == hold_id).order_by(hold_disclosures.c.id)).all()
    return [{"hold_id": r.hold_id, "recipient": r.recipient, "legal_basis": r.legal_basis,
             "reference": r.reference, "disclosed_at": r.disclosed_at.isoformat(),
             "recorded_by": r.recorded_by, "item_ids": json.loads(r.item_ids),
             "audit_seq": r.audit_seq} for r in rows]
