"""Export conversations in the IETF vCon JSON format (draft-ietf-vcon-vcon-core).

One vCon per conversation: an e-mail thread (items sharing a thread key) or a
call. Originals are inlined base64url; transcripts are ``analysis`` entries;
purposes with their lawful basis, disclosures and rectifications are
``attachments``, so the file carries what GDPR Art. 15 asks to be told.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from archive.config import ArchiveConfig
from archive.model import AddressKind, Channel, ItemRecord, Party

VCON_VERSION: Final = "0.3.0"
_NAMESPACE: Final = uuid.UUID("6d1f6c2e-3b0b-5c55-9a57-2f7c0b1d4e10")


@dataclass(slots=True)
class ConversationPart:
    """One item of a conversation with the plaintext an export may contain."""

    record: ItemRecord
    details: dict[str, Any]
    original: bytes
    transcript: dict[str, Any] | None = None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    disclosures: list[dict[str, Any]] = field(default_factory=list)


def conversation_key(record: ItemRecord) -> str:
    return record.thread_key or record.id


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _party_json(party: Party) -> dict[str, Any]:
    out: dict[str, Any] = {"role": party.role.value, "side": party.side.value}
    if party.kind is AddressKind.PHONE:
        out["tel"] = party.address
    elif party.kind is AddressKind.EMAIL:
        out["mailto"] = party.address
    elif party.kind is AddressKind.SIP:
        out["sip"] = party.address
    else:
        out["str"] = party.address
    if party.name:
        out["name"] = party.name
    return out


def _iso(value: datetime) -> str:
    return value.isoformat()


def build_vcon(parts: Sequence[ConversationPart], config: ArchiveConfig,
               *, created_at: datetime) -> dict[str, Any]:
    """A vCon for the items of one conversation, oldest first."""
    ordered = sorted(parts, key=lambda p: p.record.started_at)
    first = ordered[0].record
    parties: list[dict[str, Any]] = []
    index_of: dict[tuple[str, str], int] = {}

    def party_index(p: Party) -> int:
        key = (p.kind.value, p.address.lower())
        if key not in index_of:
            index_of[key] = len(parties)
            parties.append(_party_json(p))
        return index_of[key]

    dialog: list[dict[str, Any]] = []
    analysis: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    seen_purposes: set[str] = set()
    for part in ordered:
        rec = part.record
        idx = [party_index(p) for p in rec.parties]
        entry: dict[str, Any] = {
            "start": _iso(rec.started_at),
            "parties": idx,
            "mediatype": rec.content_type,
            "meta": {"item_id": rec.id, "source": rec.source, "direction": rec.direction.value},
        }
        if rec.channel is Channel.CALL:
            entry["type"] = "recording"
            if rec.duration_s is not None:
                entry["duration"] = rec.duration_s
            by_channel = sorted(
                (p for p in rec.parties if p.channel_index is not None),
                key=lambda p: p.channel_index or 0,
            )
            if by_channel:
                entry["parties"] = [party_index(p) for p in by_channel]
            entry["filename"] = f"{rec.id}.wav"
            entry["encoding"] = "base64url"
            entry["body"] = _b64url(part.original)
        else:
            entry["type"] = "text"
            senders = [idx[i] for i, p in enumerate(rec.parties) if p.role.value == "from"]
            if senders:
                entry["originator"] = senders[0]
            entry["filename"] = f"{rec.id}.eml"
            try:
                entry["body"] = part.original.decode()
                entry["encoding"] = "none"
            except UnicodeDecodeError:
                entry["body"] = _b64url(part.original)
                entry["encoding"] = "base64url"
        dialog.append(entry)
        if part.transcript is not None:
            analysis.append({
                "type": "transcript", "dialog": len(dialog) - 1, "vendor": "vosk",
                "mediatype": "application/json", "encoding": "json", "body": part.transcript,
            })
        for tag in rec.purposes:
            if tag.purpose in seen_purposes:
                continue
            seen_purposes.add(tag.purpose)
            try:
                purpose = config.purpose(tag.purpose)
            except KeyError:
                continue
            attachments.append({
                "type": "lawful_basis", "start": _iso(rec.started_at), "encoding": "json",
                "body": {"purpose": purpose.name, "description": purpose.description,
                         "lawful_basis": purpose.lawful_basis.value,
                         "retain_until": _iso(tag.retain_until)},
            })
        for d in part.disclosures:
            attachments.append({"type": "disclosure", "start": d["disclosed_at"],
                                "encoding": "json", "body": {**d, "item_id": rec.id}})
        for a in part.annotations:
            attachments.append({"type": "rectification", "start": a["created_at"],
                                "encoding": "json", "body": {**a, "item_id": rec.id}})
    title = str(ordered[0].details.get("subject") or ordered[0].details.get("title") or "")
    return {
        "vcon": VCON_VERSION,
        "uuid": str(uuid.uuid5(_NAMESPACE, conversation_key(first))),
        "created_at": _iso(created_at),
        "subject": title,
        "parties": parties,
        "dialog": dialog,
        "analysis": analysis,
        "attachments": attachments,
    }
