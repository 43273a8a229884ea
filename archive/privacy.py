"""Data-subject rights: access and portability, erasure, restriction, objection,
rectification; disclosures and request tracking. Every action is audited with
the subject's normalised identifier, so ``audit list --subject`` finds it.

The subject's items are those where they are a party (the catalog's subject
identifiers) plus those whose content mentions one of their identifiers (the
search index).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, BinaryIO, Final

import sqlalchemy as sa

from archive import catalog as cat
from archive.catalog import held_item_ids
from archive.config import Role
from archive.errors import ErrorCode, InvalidRequest, ItemNotFound
from archive.holds import holds_on, inserted_id
from archive.index import IndexError_, SearchQuery, hit_pages
from archive.model import AddressKind, ItemRecord, Party, PartyRole, TranscriptStatus
from archive.parties import normalise_identifier, search_terms
from archive.retention import PurgeReason, purge_items, refresh_subject_holds
from archive.service import (
    PART_DETAILS,
    PART_ORIGINAL,
    PART_TRANSCRIPT,
    Archive,
    now_utc,
)
from archive.vcon import ConversationPart, build_vcon, conversation_key

EXPORT_FORMAT: Final = "commarchive-subject-export/1"
MENTION_PAGE_ITEMS: Final = 500
PRIVACY: Final = Role.PRIVACY.value


class MatchKind(StrEnum):
    PARTY = "party"
    MENTION = "mention"


class RequestKind(StrEnum):
    ACCESS = "access"
    PORTABILITY = "portability"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    WITHDRAWAL = "withdrawal"
    RECTIFICATION = "rectification"


class RequestStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    REFUSED = "refused"


# -- lookup -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubjectMatch:
    #: The first identifier given, normalised: what audit events carry as ``subject``.
    identifier: str
    kind: AddressKind
    party_items: tuple[str, ...]
    mention_items: tuple[str, ...]
    #: Every identifier given, normalised (a subject may give several).
    identifiers: tuple[str, ...] = ()

    @property
    def item_ids(self) -> list[str]:
        return sorted(set(self.party_items) | set(self.mention_items))

    def match_of(self, item_id: str) -> list[str]:
        out = []
        if item_id in self.party_items:
            out.append(MatchKind.PARTY.value)
        if item_id in self.mention_items:
            out.append(MatchKind.MENTION.value)
        return out


Identifiers = str | Sequence[str]


def _variants(archive: Archive, kind: AddressKind, identifier: str) -> list[str]:
    if kind is AddressKind.PHONE:
        return search_terms(archive.config, Party(PartyRole.PARTICIPANT, identifier, kind))
    return [identifier]


def _mentions(archive: Archive, variants: Sequence[str]) -> list[str]:
    found: list[str] = []
    try:
        for variant in variants:
            query = SearchQuery(text='"' + variant.replace('"', " ") + '"',
                                include_restricted=True)
            for ids in hit_pages(archive.index, query, MENTION_PAGE_ITEMS):
                found.extend(ids)
    except IndexError_ as exc:
        raise InvalidRequest(f"subject lookup failed: {exc}",
                             code=ErrorCode.UNAVAILABLE) from exc
    return found


def find_subject(archive: Archive, identifier: Identifiers, *,
                 mentions: bool = True) -> SubjectMatch:
    """Items of a data subject, by any of their identifiers (e-mail, phone, customer number).

    Items where an identifier is a party, plus (``mentions``) items whose
    content mentions one.
    """
    raw = [identifier] if isinstance(identifier, str) else list(identifier)
    raw = [r.strip() for r in raw if r and r.strip()]
    if not raw:
        raise InvalidRequest("an identifier is required")
    normalised = [normalise_identifier(archive.config, r) for r in raw]
    forms: set[str] = set()
    for r, (_kind, norm) in zip(raw, normalised, strict=True):
        forms |= {norm, r, r.lower()}
    with archive.catalog.read() as conn:
        party = sorted({str(r[0]) for r in conn.execute(
            sa.select(cat.subjects.c.item_id).where(cat.subjects.c.identifier.in_(forms)))})
    mention: list[str] = []
    if mentions:
        hits: set[str] = set()
        for kind, norm in normalised:
            hits |= set(_mentions(archive, _variants(archive, kind, norm)))
        if hits:
            with archive.catalog.read() as conn:
                live = {str(r[0]) for r in conn.execute(
                    sa.select(cat.items.c.id).where(cat.items.c.id.in_(sorted(hits))))}
            mention = sorted(live)
    kind, first = normalised[0]
    return SubjectMatch(first, kind, tuple(party), tuple(mention),
                        tuple(dict.fromkeys(n for _k, n in normalised)))


def _records(archive: Archive, ids: Sequence[str]) -> dict[str, ItemRecord]:
    with archive.catalog.read() as conn:
        return archive._records(conn, list(ids))


def _disclosures(archive: Archive, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if not ids:
        return out
    with archive.catalog.read() as conn:
        for r in conn.execute(sa.select(cat.disclosures)
                              .where(cat.disclosures.c.item_id.in_(list(ids)))
                              .order_by(cat.disclosures.c.id)):
            out.setdefault(r.item_id, []).append({
                "id": r.id, "recipient": r.recipient, "legal_basis": r.legal_basis,
                "disclosed_at": r.disclosed_at.isoformat(), "reference": r.reference,
                "recorded_by": r.recorded_by})
    return out


def recipients_to_notify(archive: Archive, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Recipients the items were disclosed to (Art. 19: tell them of changes)."""
    grouped: dict[str, dict[str, Any]] = {}
    for item_id, rows in _disclosures(archive, ids).items():
        for d in rows:
            entry = grouped.setdefault(d["recipient"], {
                "recipient": d["recipient"], "item_ids": [], "disclosures": []})
            if item_id not in entry["item_ids"]:
                entry["item_ids"].append(item_id)
            entry["disclosures"].append({k: d[k] for k in
                                         ("legal_basis", "disclosed_at", "reference")})
    return [grouped[k] for k in sorted(grouped)]


def _item_summary(record: ItemRecord) -> dict[str, Any]:
    return {"item_id": record.id, "channel": record.channel.value,
            "started_at": record.started_at.isoformat()}


def subject_overview(archive: Archive, identifier: Identifiers, *, actor: str,
                     role: str = PRIVACY) -> dict[str, Any]:
    """What ``subjects find`` shows: the items' metadata (no content); audited."""
    match = find_subject(archive, identifier)
    records = _records(archive, match.item_ids)
    items = [
        {**_item_summary(r), "match": match.match_of(r.id), "direction": r.direction.value,
         "purposes": sorted(r.purpose_names), "restricted": r.restricted, "held": r.held}
        for r in sorted(records.values(), key=lambda r: r.started_at)
    ]
    archive.audit.record(actor=actor, role=role, action="subject_lookup",
                         item_ids=match.item_ids, subject=match.identifier)
    return {"subject": match.identifier, "kind": match.kind.value, "items": items}


# -- access and portability ------------------------------------------------------------------


class _Chunks(io.RawIOBase):
    """A write-only, unseekable sink that hands its bytes out chunk by chunk."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        b = bytes(data)
        self._buf += b
        self._pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = bytes(self._buf)
        self._buf.clear()
        return out


def _ext(content_type: str) -> str:
    if content_type == "message/rfc822":
        return "eml"
    if content_type.startswith("audio/"):
        return "wav"
    return "bin"


@dataclass(slots=True)
class ExportPlan:
    match: SubjectMatch
    audit_seq: int
    chunks: Iterator[bytes]


def _purpose_json(archive: Archive, record: ItemRecord) -> list[dict[str, Any]]:
    out = []
    for tag in record.purposes:
        try:
            p = archive.config.purpose(tag.purpose)
        except KeyError:
            continue
        out.append({"purpose": p.name, "description": p.description,
                    "lawful_basis": p.lawful_basis.value,
                    "retain_until": tag.retain_until.isoformat(),
                    "roles": [r.value for r in p.roles]})
    return out


def _party_public(p: Party) -> dict[str, Any]:
    return {"role": p.role.value, "kind": p.kind.value, "address": p.address, "name": p.name,
            "side": p.side.value, "channel_index": p.channel_index}


def start_export(
    archive: Archive, identifier: Identifiers, *, actor: str, role: str = PRIVACY,
    request_id: int | None = None, now: datetime | None = None,
) -> ExportPlan:
    """Audit the export, then stream the ZIP (no plaintext ever touches the disk here)."""
    now = now or now_utc()
    match = find_subject(archive, identifier)
    event = archive.audit.record(
        actor=actor, role=role, action="export", item_ids=match.item_ids,
        subject=match.identifier,
        detail={"request_id": request_id, "format": EXPORT_FORMAT,
                "identifiers": list(match.identifiers)},
    )
    return ExportPlan(match, event.seq, _zip_chunks(archive, match, now, request_id, event.seq))


def _zip_chunks(archive: Archive, match: SubjectMatch, now: datetime,
                request_id: int | None, audit_seq: int) -> Iterator[bytes]:
    sink = _Chunks()
    records = _records(archive, match.item_ids)
    disclosures = _disclosures(archive, list(records))
    entries: list[dict[str, Any]] = []
    conversations: dict[str, list[ConversationPart]] = {}
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for record in sorted(records.values(), key=lambda r: (r.started_at, r.id)):
            base = f"items/{record.id}"
            shared = disclosures.get(record.id, [])
            part, dek, raw = _unsealed(archive, record, shared)
            details, notes = part.details, part.annotations
            files = [f"{base}/original.{_ext(record.content_type)}", f"{base}/details.json"]
            zf.writestr(files[0], part.original)
            zf.writestr(files[1], json.dumps(details, ensure_ascii=False, indent=2))
            if raw is not None:
                text = archive._unseal(record.id, "transcript-text", dek)
                zf.writestr(f"{base}/transcript.json", raw)
                zf.writestr(f"{base}/transcript.txt", text)
                files += [f"{base}/transcript.json", f"{base}/transcript.txt"]
            if notes:
                zf.writestr(f"{base}/rectifications.json",
                            json.dumps(notes, ensure_ascii=False, indent=2))
                files.append(f"{base}/rectifications.json")
            entries.append({
                "id": record.id, "channel": record.channel.value,
                "direction": record.direction.value, "source": record.source,
                "started_at": record.started_at.isoformat(),
                "ended_at": record.ended_at.isoformat() if record.ended_at else None,
                "archived_at": record.ingested_at.isoformat(),
                "match": match.match_of(record.id),
                "subject_line": details.get("subject") or details.get("title"),
                "parties": [_party_public(p) for p in record.parties],
                "purposes": _purpose_json(archive, record),
                "restricted": record.restricted, "held": record.held,
                "disclosed_to": shared, "rectifications": notes,
                "transcript_status": record.transcript_status.value,
                "files": files,
            })
            conversations.setdefault(conversation_key(record), []).append(part)
            yield sink.take()
        vcon_files = []
        for key, parts in conversations.items():
            vcon = build_vcon(parts, archive.config, created_at=now)
            name = f"vcon/{vcon['uuid']}.vcon.json"
            vcon_files.append({"file": name, "items": [p.record.id for p in parts],
                               "conversation": key})
            zf.writestr(name, json.dumps(vcon, ensure_ascii=False, indent=1))
            yield sink.take()
        index = {
            "format": EXPORT_FORMAT,
            "controller": archive.config.organisation,
            "subject": match.identifier,
            "subject_kind": match.kind.value,
            "identifiers": list(match.identifiers),
            "generated_at": now.isoformat(),
            "request_id": request_id,
            "audit_seq": audit_seq,
            "purposes": [
                {"purpose": p.name, "description": p.description,
                 "lawful_basis": p.lawful_basis.value, "retention_days": p.retention_days,
                 "roles": [r.value for r in p.roles]}
                for p in archive.config.purposes
            ],
            "items": entries,
            "vcon": vcon_files,
        }
        zf.writestr("index.json", json.dumps(index, ensure_ascii=False, indent=2))
        zf.writestr("summary.txt", _summary_text(index))
    yield sink.take()


def _summary_text(index: dict[str, Any]) -> str:
    lines = [
        f"Your data held by {index['controller']}",
        "=" * 60,
        f"Identifier: {index['subject']}",
        f"Prepared: {index['generated_at']}",
        f"Recordings and messages found: {len(index['items'])}",
        "",
        "Why we keep them (purposes and lawful basis):",
    ]
    for p in index["purposes"]:
        lines.append(f"  - {p['purpose']}: {p['description']} "
                     f"(basis: {p['lawful_basis'].replace('_', ' ')}; "
                     f"kept {p['retention_days']} days)")
    lines += ["", "Items:"]
    for item in index["items"]:
        purposes = ", ".join(f"{p['purpose']} until {p['retain_until'][:10]}"
                             for p in item["purposes"]) or "none"
        lines.append(f"  - {item['started_at'][:16]} {item['channel']} "
                     f"({item['direction']}): {item['subject_line'] or ''}")
        lines.append(f"      purposes: {purposes}")
        for d in item["disclosed_to"]:
            lines.append(f"      disclosed to {d['recipient']} on {d['disclosed_at'][:10]} "
                         f"({d['legal_basis']})")
        for note in item["rectifications"]:
            lines.append(f"      correction noted {note['created_at'][:10]}: {note['text']}")
        if item["restricted"]:
            lines.append("      processing restricted at your request")
    lines += ["", "index.json holds the same in machine-readable form; vcon/ holds each "
              "conversation in the IETF vCon format; items/ holds the originals and "
              "transcripts.", ""]
    return "\n".join(lines)


def export_subject(
    archive: Archive, identifier: Identifiers, out: BinaryIO, *, actor: str, role: str = PRIVACY,
    request_id: int | None = None, now: datetime | None = None,
) -> ExportPlan:
    """Write the subject's export ZIP to ``out`` (the caller's explicit choice)."""
    plan = start_export(archive, identifier, actor=actor, role=role, request_id=request_id,
                        now=now)
    for chunk in plan.chunks:
        out.write(chunk)
    return plan


def vcons_of(archive: Archive, identifier: Identifiers, *, actor: str,
             role: str = PRIVACY) -> list[dict[str, Any]]:
    """The subject's conversations as vCon objects (audited like an export)."""
    match = find_subject(archive, identifier)
    archive.audit.record(actor=actor, role=role, action="export", item_ids=match.item_ids,
                         subject=match.identifier, detail={"format": "vcon"})
    records = _records(archive, match.item_ids)
    disclosures = _disclosures(archive, list(records))
    groups: dict[str, list[ConversationPart]] = {}
    for record in sorted(records.values(), key=lambda r: (r.started_at, r.id)):
        part, _, _ = _unsealed(archive, record, disclosures.get(record.id, []))
        groups.setdefault(conversation_key(record), []).append(part)
    now = now_utc()
    return [build_vcon(parts, archive.config, created_at=now) for parts in groups.values()]


def _unsealed(
    archive: Archive, record: ItemRecord, shared: list[dict[str, Any]]
) -> tuple[ConversationPart, bytes, bytes | None]:
    """What an export holds of one item, its data key, and the transcript as stored."""
    dek = archive._dek(record.id, None)
    raw = (archive._unseal(record.id, PART_TRANSCRIPT, dek)
           if record.transcript_status is TranscriptStatus.DONE else None)
    part = ConversationPart(
        record, json.loads(archive._unseal(record.id, PART_DETAILS, dek)),
        archive._unseal(record.id, PART_ORIGINAL, dek),
        json.loads(raw) if raw is not None else None,
        archive.annotations(record.id), shared)
    return part, dek, raw


# -- erasure ------------------------------------------------------------------------------


@dataclass(slots=True)
class ErasureCertificate:
    subject: str
    issued_at: datetime
    actor: str
    request_id: int | None
    erased: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    recipients_to_notify: list[dict[str, Any]] = field(default_factory=list)
    audit_seq: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "certificate": "erasure (GDPR Art. 17)",
            "subject": self.subject,
            "request_id": self.request_id,
            "issued_at": self.issued_at.isoformat(),
            "issued_by": self.actor,
            "method": "crypto-shredding: every wrapped data key destroyed, then sealed blobs, "
                      "index entries and catalog rows deleted; a tombstone without personal "
                      "data remains",
            "erased": self.erased,
            "kept": self.kept,
            "recipients_to_notify": self.recipients_to_notify,
            "audit_seq": self.audit_seq,
        }


def _other_subjects(archive: Archive, record: ItemRecord, identifier: str) -> bool:
    """Whether a party of the item is a data subject other than ``identifier``."""
    ids = archive._subject_ids(record.parties)
    return any(i != identifier for i in ids)


def erase_subject(
    archive: Archive, identifier: Identifiers, *, actor: str, role: str = PRIVACY,
    request_id: int | None = None, mentions: bool = True, now: datetime | None = None,
    erase_others: bool = False,
) -> ErasureCertificate:
    """Crypto-shred and purge the subject's items, refusing item by item (Art. 17(3)).

    Under a legal hold an item is kept whole. An item carrying a purpose for a
    legal obligation keeps only that purpose: the others' keys are destroyed.
    An item that only mentions the subject but has another data subject as a
    party is someone else's communication: it is kept and listed for review
    (``other_subjects``) unless ``erase_others``.
    """
    now = now or now_utc()
    match = find_subject(archive, identifier, mentions=mentions)
    ids = match.item_ids
    recipients = recipients_to_notify(archive, ids)
    cert = ErasureCertificate(match.identifier, now, actor, request_id,
                              recipients_to_notify=recipients)
    with archive.catalog.write() as conn:
        refresh_subject_holds(conn)
        held = held_item_ids(conn, ids)
    records = _records(archive, ids)
    cases = holds_on(archive, sorted(held))
    purge: list[str] = []
    partial: list[str] = []
    for item_id in ids:
        record = records.get(item_id)
        if record is None:
            continue
        summary = {**_item_summary(record), "match": match.match_of(item_id)}
        if (not erase_others and item_id not in match.party_items
                and _other_subjects(archive, record, match.identifier)):
            cert.kept.append({**summary, "reason": "other_subjects",
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
            with archive.catalog.write() as conn:
                if item_id in held_item_ids(conn, [item_id]):
                    cert.kept.append({**summary, "reason": ErrorCode.LEGAL_HOLD.value,
                                      "detail": "placed under legal hold meanwhile"})
                    continue
                archive.shred(item_id, purposes=drop, conn=conn)
                archive.mark_index_dirty(conn, [item_id])
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
        archive._index_items(partial)
    purged, failed, _ = purge_items(
        archive, purge, reason=PurgeReason.ERASURE, actor=actor, role=role,
        subject=match.identifier, reference=str(request_id) if request_id else None, now=now,
    )
    done = set(purged)
    for item_id in purge:
        record = records[item_id]
        summary = {**_item_summary(record), "match": match.match_of(item_id)}
        if item_id in done:
            cert.erased.append(summary)
    for item_id, why in failed:
        summary = {**_item_summary(records[item_id]), "match": match.match_of(item_id)}
        cert.kept.append({**summary, "reason": why, "detail": "not erased; retry"})
    event = archive.audit.record(
        actor=actor, role=role, action="erase", subject=match.identifier,
        item_ids=[e["item_id"] for e in cert.erased],
        detail={"request_id": request_id, "erased": len(cert.erased),
                "identifiers": list(match.identifiers),
                "kept": [{"item_id": k["item_id"], "reason": k["reason"]} for k in cert.kept],
                "recipients": [r["recipient"] for r in recipients]},
    )
    cert.audit_seq = event.seq
    archive.catalog.checkpoint()
    return cert


def _blocks_erasure(archive: Archive, purpose: str) -> bool:
    try:
        return archive.config.purpose(purpose).blocks_erasure
    except KeyError:
        return False


# -- restriction ----------------------------------------------------------------------------


def restrict_subject(
    archive: Archive, identifier: Identifiers, *, actor: str, reason: str, role: str = PRIVACY,
    request_id: int | None = None, now: datetime | None = None,
) -> dict[str, Any]:
    """Art. 18: items stay stored but leave search, review and training samples."""
    if not reason.strip():
        raise InvalidRequest("a restriction needs a reason")
    now = now or now_utc()
    match = find_subject(archive, identifier)
    ids = match.item_ids
    with archive.catalog.write() as conn:
        conn.execute(cat.subject_restrictions.insert(), [
            {"identifier": ident, "reason": reason, "created_by": actor, "created_at": now}
            for ident in (match.identifiers or (match.identifier,))])
        if ids:
            conn.execute(cat.restrictions.insert(), [
                {"item_id": i, "reason": reason, "request_id": request_id,
                 "created_by": actor, "created_at": now} for i in ids])
            conn.execute(cat.items.update().where(cat.items.c.id.in_(ids))
                         .values(restricted=True))
            archive.mark_index_dirty(conn, ids)
        event = archive.audit.append(
            conn, actor=actor, role=role, action="restrict", item_ids=ids,
            subject=match.identifier, detail={"reason": reason, "request_id": request_id})
    archive.audit.anchor(event)
    if ids:
        archive._index_items(ids)
    return {"subject": match.identifier, "restricted": ids,
            "recipients_to_notify": recipients_to_notify(archive, ids), "audit_seq": event.seq}


def lift_restriction(
    archive: Archive, identifier: Identifiers, *, actor: str, note: str, role: str = PRIVACY,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Lift the subject's restrictions; ``note`` records that the subject was informed."""
    if not note.strip():
        raise InvalidRequest("lifting a restriction needs a note that the subject was informed "
                             "(Art. 18(3))")
    now = now or now_utc()
    match = find_subject(archive, identifier)
    ids = match.item_ids
    with archive.catalog.write() as conn:
        conn.execute(cat.subject_restrictions.update().where(
            cat.subject_restrictions.c.identifier.in_(match.identifiers or (match.identifier,)),
            cat.subject_restrictions.c.lifted_at.is_(None)).values(lifted_at=now))
        active = [str(r[0]) for r in conn.execute(
            sa.select(cat.restrictions.c.item_id).distinct().where(
                cat.restrictions.c.item_id.in_(ids), cat.restrictions.c.lifted_at.is_(None)))]
        if active:
            conn.execute(cat.restrictions.update().where(
                cat.restrictions.c.item_id.in_(active), cat.restrictions.c.lifted_at.is_(None))
                .values(lifted_by=actor, lifted_at=now, lift_note=note))
            conn.execute(cat.items.update().where(cat.items.c.id.in_(active))
                         .values(restricted=False))
            archive.mark_index_dirty(conn, active)
        event = archive.audit.append(
            conn, actor=actor, role=role, action="restrict_lift", item_ids=active,
            subject=match.identifier, detail={"note": note})
    archive.audit.anchor(event)
    if active:
        archive._index_items(active)
    return {"subject": match.identifier, "lifted": active,
            "recipients_to_notify": recipients_to_notify(archive, active),
            "audit_seq": event.seq}


# -- objection and consent withdrawal -----------------------------------------------------------


def object_subject(
    archive: Archive, identifier: Identifiers, *, actor: str, role: str = PRIVACY,
    purposes: Sequence[str] | None = None, withdrawal: bool = False,
    request_id: int | None = None, now: datetime | None = None,
) -> dict[str, Any]:
    """Art. 21 / 7(3): drop the objected purposes from the subject's items, keys destroyed.

    By default every purpose based on legitimate interest or consent. Legal
    purposes stay; an item left with no purpose is purged. A held item keeps
    its keys unless another purpose remains to carry it.
    """
    now = now or now_utc()
    if purposes is None:
        chosen = [p.name for p in archive.config.purposes if p.stops_on_objection]
    else:
        chosen = list(dict.fromkeys(purposes))
        for name in chosen:
            try:
                p = archive.config.purpose(name)
            except KeyError:
                raise InvalidRequest(f"unknown purpose {name!r}") from None
            if not p.stops_on_objection:
                raise InvalidRequest(
                    f"purpose {name!r} rests on {p.lawful_basis.value}; objection and "
                    "consent withdrawal do not end it", code=ErrorCode.LEGAL_OBLIGATION)
    match = find_subject(archive, identifier)
    ids = match.item_ids
    records = _records(archive, ids)
    dropped: list[dict[str, str]] = []
    kept: list[dict[str, Any]] = []
    to_purge: list[str] = []
    reindex: list[str] = []
    action = "consent_withdrawal" if withdrawal else "objection"
    with archive.catalog.write() as conn:
        refresh_subject_holds(conn)
        held = held_item_ids(conn, ids)
        for item_id in ids:
            record = records.get(item_id)
            if record is None:
                continue
            drop = sorted(record.purpose_names & set(chosen))
            left = record.purpose_names - set(drop)
            if not drop:
                continue
            if not left and item_id in held:
                kept.append({"item_id": item_id, "reason": ErrorCode.LEGAL_HOLD.value,
                             "purposes": drop})
                continue
            archive.shred(item_id, purposes=drop, conn=conn)
            dropped.extend({"item_id": item_id, "purpose": p} for p in drop)
            (reindex if left else to_purge).append(item_id)
        if reindex:
            archive.mark_index_dirty(conn, reindex)
        event = archive.audit.append(
            conn, actor=actor, role=role, action=action, subject=match.identifier,
            item_ids=sorted({d["item_id"] for d in dropped}),
            detail={"purposes": chosen, "request_id": request_id,
                    "dropped": len(dropped), "kept": kept})
    archive.audit.anchor(event)
    if reindex:
        archive._index_items(reindex)
    purged, failed, _ = purge_items(
        archive, to_purge, reason=PurgeReason.OBJECTION, actor=actor, role=role,
        subject=match.identifier, reference=str(request_id) if request_id else None, now=now)
    archive.catalog.checkpoint()
    return {"subject": match.identifier, "purposes": chosen, "dropped": dropped,
            "purged": purged, "kept": kept + [{"item_id": i, "reason": r} for i, r in failed],
            "audit_seq": event.seq}


# -- rectification ---------------------------------------------------------------------------


def annotate_item(
    archive: Archive, item_id: str, text: str, *, actor: str, role: str = PRIVACY,
    request_id: int | None = None, subject: str | None = None, now: datetime | None = None,
) -> dict[str, Any]:
    """Art. 16: a sealed annotation beside the untouched original; shown and exported with it."""
    if not text.strip():
        raise InvalidRequest("an annotation needs text")
    now = now or now_utc()
    archive.record(item_id)
    dek = archive._dek(item_id, None)
    with archive.catalog.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(cat.item_annotations)
                             .where(cat.item_annotations.c.item_id == item_id)).scalar_one()

    part = f"annotation-{count + 1}-{int(now.timestamp())}"
    row = archive.seal_part(item_id, part, text.encode(), "text/plain; charset=utf-8", dek)
    norm = archive.normalise_subject(subject) if subject else None
    with archive.catalog.write() as conn:
        conn.execute(cat.parts.insert().values(**row))
        ann_id = inserted_id(conn.execute(cat.item_annotations.insert().values(
            item_id=item_id, part=part, author=actor, created_at=now, request_id=request_id,
        )))
        event = archive.audit.append(
            conn, actor=actor, role=role, action="rectify", item_ids=[item_id], subject=norm,
            detail={"annotation_id": ann_id, "request_id": request_id})
    archive.audit.anchor(event)
    return {"item_id": item_id, "annotation_id": ann_id, "created_at": now.isoformat(),
            "recipients_to_notify": recipients_to_notify(archive, [item_id]),
            "audit_seq": event.seq}


# -- disclosures ------------------------------------------------------------------------------


def record_disclosure(
    archive: Archive, item_ids: Sequence[str], *, recipient: str, legal_basis: str,
    actor: str, role: str = PRIVACY, disclosed_at: datetime | None = None,
    reference: str | None = None,
) -> dict[str, Any]:
    """Policy section 5: record that items were given to a recipient, and on what basis."""
    if not item_ids:
        raise InvalidRequest("a disclosure names at least one item")
    if not recipient.strip() or not legal_basis.strip():
        raise InvalidRequest("a disclosure needs a recipient and a legal basis")
    when = disclosed_at or now_utc()
    ids = sorted(set(item_ids))
    records = _records(archive, ids)
    missing = [i for i in ids if i not in records]
    if missing:
        raise ItemNotFound(missing[0])
    subjects: set[str] = set()
    with archive.catalog.write() as conn:
        for r in conn.execute(sa.select(cat.subjects.c.identifier)
                              .where(cat.subjects.c.item_id.in_(ids))):
            subjects.add(str(r[0]))
        conn.execute(cat.disclosures.insert(), [
            {"item_id": i, "recipient": recipient, "legal_basis": legal_basis,
             "disclosed_at": when, "recorded_by": actor, "reference": reference} for i in ids])
        event = archive.audit.append(
            conn, actor=actor, role=role, action="disclosure", item_ids=ids,
            subject=sorted(subjects)[0] if len(subjects) == 1 else None,
            detail={"recipient": recipient, "legal_basis": legal_basis,
                    "disclosed_at": when.isoformat(), "reference": reference,
                    "subjects": sorted(subjects)})
    archive.audit.anchor(event)
    return {"item_ids": ids, "recipient": recipient, "legal_basis": legal_basis,
            "disclosed_at": when.isoformat(), "reference": reference, "audit_seq": event.seq}


def list_disclosures(archive: Archive, *, subject: Identifiers | None = None,
                     item_id: str | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(cat.disclosures).order_by(cat.disclosures.c.id)
    if item_id:
        stmt = stmt.where(cat.disclosures.c.item_id == item_id)
    if subject:
        ids = find_subject(archive, subject).item_ids
        stmt = stmt.where(cat.disclosures.c.item_id.in_(ids))
    with archive.catalog.read() as conn:
        return [{"id": r.id, "item_id": r.item_id, "recipient": r.recipient,
                 "legal_basis": r.legal_basis, "disclosed_at": r.disclosed_at.isoformat(),
                 "reference": r.reference, "recorded_by": r.recorded_by}
                for r in conn.execute(stmt)]


# -- requests -----------------------------------------------------------------------------------


def _request_json(r: sa.Row[Any], now: datetime) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "subject": r.subject, "requested_by": r.requested_by,
            "verified_by": r.verified_by, "received_at": r.received_at.isoformat(),
            "due_at": r.due_at.isoformat(), "status": r.status,
            "closed_at": r.closed_at.isoformat() if r.closed_at else None, "note": r.note,
            "overdue": r.status == RequestStatus.OPEN.value and r.due_at < now}


def add_request(
    archive: Archive, *, kind: str, subject: str, requested_by: str, verified_by: str | None,
    actor: str, role: str = PRIVACY, received_at: datetime | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Track a data-subject request; due one month after receipt (Art. 12(3))."""
    try:
        kind = RequestKind(kind).value
    except ValueError:
        raise InvalidRequest(f"unknown request kind {kind!r}; one of "
                             f"{', '.join(k.value for k in RequestKind)}") from None
    if not requested_by.strip():
        raise InvalidRequest("a request needs who asked")
    received = received_at or now_utc()
    due = received + timedelta(days=archive.config.request_deadline_days)
    norm = archive.normalise_subject(subject)
    with archive.catalog.write() as conn:
        req_id = inserted_id(conn.execute(cat.requests.insert().values(
            kind=kind, subject=norm, requested_by=requested_by, verified_by=verified_by,
            received_at=received, due_at=due, status=RequestStatus.OPEN.value, note=note,
        )))
        event = archive.audit.append(
            conn, actor=actor, role=role, action="request_add", subject=norm,
            detail={"request_id": req_id, "kind": kind, "verified_by": verified_by,
                    "due_at": due.isoformat()})
        row = conn.execute(sa.select(cat.requests).where(cat.requests.c.id == req_id)).one()
    archive.audit.anchor(event)
    return _request_json(row, now_utc())


def list_requests(archive: Archive, *, overdue: bool = False, status: str | None = None,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or now_utc()
    stmt = sa.select(cat.requests).order_by(cat.requests.c.due_at, cat.requests.c.id)
    if overdue:
        stmt = stmt.where(cat.requests.c.status == RequestStatus.OPEN.value,
                          cat.requests.c.due_at < now)
    elif status:
        stmt = stmt.where(cat.requests.c.status == status)
    with archive.catalog.read() as conn:
        return [_request_json(r, now) for r in conn.execute(stmt)]


def close_request(
    archive: Archive, request_id: int, *, actor: str, role: str = PRIVACY,
    status: str = RequestStatus.DONE.value, note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    if status not in (RequestStatus.DONE.value, RequestStatus.REFUSED.value):
        raise InvalidRequest("a request closes as 'done' or 'refused'")
    now = now or now_utc()
    with archive.catalog.write() as conn:
        row = conn.execute(sa.select(cat.requests)
                           .where(cat.requests.c.id == request_id)).first()
        if row is None:
            raise InvalidRequest(f"no request {request_id}", code=ErrorCode.NOT_FOUND)
        if row.status != RequestStatus.OPEN.value:
            raise InvalidRequest(f"request {request_id} is already {row.status}",
                                 code=ErrorCode.CONFLICT)
        conn.execute(cat.requests.update().where(cat.requests.c.id == request_id).values(
            status=status, closed_at=now, note=note if note is not None else row.note))
        event = archive.audit.append(
            conn, actor=actor, role=role, action="request_close", subject=row.subject,
            detail={"request_id": request_id, "status": status, "note": note,
                    "late": now > row.due_at})
        row = conn.execute(sa.select(cat.requests)
                           .where(cat.requests.c.id == request_id)).one()
    archive.audit.anchor(event)
    return _request_json(row, now)


# -- purposes on record (Art. 30) ------------------------------------------------------------


def purposes_report(archive: Archive, *, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or now_utc()
    with archive.catalog.read() as conn:
        counts: dict[str, int] = dict(conn.execute(
            sa.select(cat.purpose_tags.c.purpose, sa.func.count())
            .group_by(cat.purpose_tags.c.purpose)).all())
        expired: dict[str, int] = dict(conn.execute(
            sa.select(cat.purpose_tags.c.purpose, sa.func.count())
            .where(cat.purpose_tags.c.retain_until <= now)
            .group_by(cat.purpose_tags.c.purpose)).all())
    return [
        {"purpose": p.name, "description": p.description,
         "lawful_basis": p.lawful_basis.value, "retention_days": p.retention_days,
         "roles": [r.value for r in p.roles], "anonymised": p.anonymised,
         "stops_on_objection": p.stops_on_objection, "blocks_erasure": p.blocks_erasure,
         "items": int(counts.get(p.name, 0)), "items_past_retention": int(expired.get(p.name, 0))}
        for p in archive.config.purposes
    ]

