"""Access and portability (Art. 15 and 20): the subject's export, streamed.

The ZIP (``index.json``, originals, transcripts, rectifications, vCon per
conversation, a plain-language summary) is produced chunk by chunk in memory:
no plaintext touches the disk here; the caller chooses where the bytes go.

An item that only mentions the requester while other data subjects are its
parties is someone else's communication (Art. 15(4)): it is listed with
``"redacted": true`` and only its text goes out, with every party's names,
addresses and numbers redacted; with no text to show (a call not yet
transcribed) it is listed for manual review instead.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Final

from archive.anonymise import Redactor
from archive.model import ItemRecord, TranscriptStatus, now_utc
from archive.parties import normalise_identifier
from archive.rights.datasheet import cover_letter, data_sheet
from archive.rights.subjects import (
    PRIVACY,
    Identifiers,
    SubjectMatch,
    belongs_to_others,
    disclosures_by_item,
    find_subject,
    variants,
)
from archive.service import Archive
from archive.vault import (
    PART_DETAILS,
    PART_INDEX,
    PART_ORIGINAL,
    PART_TRANSCRIPT,
    PART_TRANSCRIPT_TEXT,
)
from archive.vcon import ConversationPart, build_vcon, conversation_key

EXPORT_FORMAT: Final = "commarchive-subject-export/1"
#: The sections of an item's text a redacted copy shows (never the party list).
_TEXT_SECTIONS: Final = ("subject", "body", "attachment")
#: What stands in a reviewed export for a third party the officer chose to redact.
THIRD_PARTY_TOKEN: Final = "[THIRD PARTY]"
#: A case's review: the items to export, each with the third parties (names,
#: addresses, numbers) to redact in it; an item with none goes out whole.
Review = Mapping[str, Sequence[str]]


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


#: Originals keep their own format (a PBX's MP3 or FLAC is exported as it arrived).
_EXTENSIONS: Final = {"message/rfc822": "eml", "audio/mpeg": "mp3", "audio/flac": "flac",
                      "audio/ogg": "ogg"}


def _ext(content_type: str) -> str:
    base = content_type.split(";")[0].strip()
    if base in _EXTENSIONS:
        return _EXTENSIONS[base]
    return "wav" if base.startswith("audio/") else "bin"


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


def start_export(
    archive: Archive, identifier: Identifiers, *, actor: str, role: str = PRIVACY,
    request_id: int | None = None, now: datetime | None = None,
    case_id: int | None = None, review: Review | None = None,
) -> ExportPlan:
    """Audit the export, then stream the ZIP (no plaintext ever touches the disk here).

    With a case's ``review``, only the reviewed items go out (those the officer
    excluded are not in it), each with its third parties redacted as reviewed."""
    now = now or now_utc()
    match = find_subject(archive, identifier)
    ids = sorted(review) if review is not None else match.item_ids
    event = archive.vault.record_event(
        actor=actor, role=role, action="export", item_ids=ids,
        subject=match.identifier,
        detail={"request_id": request_id, "format": EXPORT_FORMAT,
                "identifiers": list(match.identifiers),
                **({"case_id": case_id} if case_id is not None else {})},
    )
    return ExportPlan(match, event.seq, _zip_chunks(
        archive, match, now, request_id, event.seq, ids, review or {}, case_id))


def _zip_chunks(archive: Archive, match: SubjectMatch, now: datetime,
                request_id: int | None, audit_seq: int, ids: list[str], reviewed: Review,
                case_id: int | None) -> Iterator[bytes]:
    sink = _Chunks()
    records = archive.vault.records_of(ids)
    disclosures = disclosures_by_item(archive, list(records))
    entries: list[dict[str, Any]] = []
    conversations: dict[str, list[ConversationPart]] = {}
    redacted: list[str] = []
    review: list[str] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for record in sorted(records.values(), key=lambda r: (r.started_at, r.id)):
            base = f"items/{record.id}"
            shared = disclosures.get(record.id, [])
            third = reviewed.get(record.id, ())
            if third or belongs_to_others(archive, match, record):
                entry = _redacted_entry(archive, zf, record, match, shared, base, third)
                entries.append(entry)
                (redacted if entry["files"] else review).append(record.id)
                yield sink.take()
                continue
            part, dek, raw = _unsealed(archive, record, shared)
            details, notes = part.details, part.annotations
            files = [f"{base}/original.{_ext(record.content_type)}", f"{base}/details.json"]
            zf.writestr(files[0], part.original)
            zf.writestr(files[1], json.dumps(details, ensure_ascii=False, indent=2))
            if raw is not None:
                text = archive.vault.unseal(record.id, PART_TRANSCRIPT_TEXT, dek)
                zf.writestr(f"{base}/transcript.json", raw)
                zf.writestr(f"{base}/transcript.txt", text)
                files += [f"{base}/transcript.json", f"{base}/transcript.txt"]
            if notes:
                zf.writestr(f"{base}/rectifications.json",
                            json.dumps(notes, ensure_ascii=False, indent=2))
                files.append(f"{base}/rectifications.json")
            entries.append({
                **_entry_head(record, match),
                "subject_line": details.get("subject") or details.get("title"),
                "parties": [p.as_dict() for p in record.parties],
                "purposes": _purpose_json(archive, record),
                "restricted": record.restricted, "held": record.held,
                "disclosed_to": shared, "rectifications": notes,
                "transcript_status": record.transcript_status.value,
                "files": files, "redacted": False,
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
            "case_id": case_id,
            "audit_seq": audit_seq,
            "data_sheet": data_sheet(archive.config),
            "purposes": [
                {"purpose": p.name, "description": p.description,
                 "lawful_basis": p.lawful_basis.value, "retention_days": p.retention_days,
                 "roles": [r.value for r in p.roles]}
                for p in archive.config.purposes
            ],
            "items": entries,
            "redacted_items": redacted,
            "review_items": review,
            "vcon": vcon_files,
        }
        zf.writestr("index.json", json.dumps(index, ensure_ascii=False, indent=2))
        zf.writestr("summary.txt", _summary_text(index))
        zf.writestr("cover_letter.txt", cover_letter(index))
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
        if item["redacted"]:
            lines.append("      another person's message that mentions you: "
                         + ("its text, with their names, addresses and numbers redacted"
                            if item["files"] else
                            "listed for a manual review; we will send what concerns you"))
    if index["redacted_items"] or index["review_items"]:
        lines += ["", f"{len(index['redacted_items'])} item(s) belong to other people and only "
                  "mention you: to protect their rights (GDPR Art. 15(4)) they are included "
                  "redacted (items/<id>/redacted.txt), not in full; "
                  f"{len(index['review_items'])} more are listed for a manual review."]
    lines += ["", "index.json holds the same in machine-readable form; vcon/ holds each "
              "conversation in the IETF vCon format; items/ holds the originals and "
              "transcripts.", ""]
    return "\n".join(lines)


def _entry_head(record: ItemRecord, match: SubjectMatch) -> dict[str, Any]:
    """What ``index.json`` says of every item, whole or redacted."""
    return {
        "id": record.id, "channel": record.channel.value,
        "direction": record.direction.value, "source": record.source,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
        "archived_at": record.ingested_at.isoformat(),
        "match": match.match_of(record.id),
    }


def _redacted_entry(
    archive: Archive, zf: zipfile.ZipFile, record: ItemRecord, match: SubjectMatch,
    shared: list[dict[str, Any]], base: str, third: Sequence[str] = (),
) -> dict[str, Any]:
    """Another subject's item in the requester's export: its text with every party's
    names, addresses and numbers redacted, no original, no party list. What identifies
    the requester stays: it is their own data in that message.

    With ``third`` (an officer's review of the requester's own item), what is
    redacted is those third parties: the written forms given, and the name and
    address of any party they name."""
    own = [form for ident in match.identifiers
           for form in variants(archive, normalise_identifier(archive.config, ident)[0], ident)]
    redactor = (_third_party_redactor(record, third) if third
                else Redactor.for_parties(record.parties, record.language)).keeping(own)
    dek = archive.vault.dek(record.id)
    part = json.loads(archive.vault.unseal(record.id, PART_INDEX, dek))
    texts = [str(s["text"]) for s in part.get("sections", [])
             if s.get("kind") in _TEXT_SECTIONS and s.get("text")]
    if record.transcript_status is TranscriptStatus.DONE:
        texts.append(archive.vault.unseal(record.id, PART_TRANSCRIPT_TEXT, dek).decode())
    files: list[str] = []
    if any(t.strip() for t in texts):
        files.append(f"{base}/redacted.txt")
        zf.writestr(files[0], redactor.redact("\n\n".join(texts)))
    title = str(part.get("title") or "")
    return {
        **_entry_head(record, match),
        "subject_line": redactor.redact(title) if title else None,
        "purposes": _purpose_json(archive, record),
        "restricted": record.restricted, "held": record.held,
        "disclosed_to": shared, "rectifications": [],
        "transcript_status": record.transcript_status.value,
        "files": files, "redacted": True, "review": not files,
        "redacted_for": "third_party" if third else "other_subject",
    }


def _third_party_redactor(record: ItemRecord, third: Sequence[str]) -> Redactor:
    wanted = {t.strip().casefold() for t in third if t.strip()}
    forms = set(wanted)
    for party in record.parties:
        if {party.address.casefold(), (party.name or "").casefold()} & wanted:
            forms |= {v.casefold() for v in (party.address, party.name) if v}
            forms |= {w.casefold() for w in (party.name or "").split() if len(w) >= 3}
    return Redactor([(re.compile(rf"(?<!\w){re.escape(f)}(?!\w)", re.IGNORECASE),
                      THIRD_PARTY_TOKEN) for f in sorted(forms, key=len, reverse=True)])


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
    archive.vault.record_event(actor=actor, role=role, action="export", item_ids=match.item_ids,
                         subject=match.identifier, detail={"format": "vcon"})
    records = archive.vault.records_of(match.item_ids)
    disclosures = disclosures_by_item(archive, list(records))
    groups: dict[str, list[ConversationPart]] = {}
    for record in sorted(records.values(), key=lambda r: (r.started_at, r.id)):
        if belongs_to_others(archive, match, record):
            continue  # someone else's conversation: only in the redacted ZIP export
        part, _, _ = _unsealed(archive, record, disclosures.get(record.id, []))
        groups.setdefault(conversation_key(record), []).append(part)
    now = now_utc()
    return [build_vcon(parts, archive.config, created_at=now) for parts in groups.values()]


def _unsealed(
    archive: Archive, record: ItemRecord, shared: list[dict[str, Any]]
) -> tuple[ConversationPart, bytes, bytes | None]:
    """What an export holds of one item, its data key, and the transcript as stored."""
    dek = archive.vault.dek(record.id)
    raw = (archive.vault.unseal(record.id, PART_TRANSCRIPT, dek)
           if record.transcript_status is TranscriptStatus.DONE else None)
    part = ConversationPart(
        record, json.loads(archive.vault.unseal(record.id, PART_DETAILS, dek)),
        archive.vault.unseal(record.id, PART_ORIGINAL, dek),
        json.loads(raw) if raw is not None else None,
        archive.reader.annotations(record.id), shared)
    return part, dek, raw
