"""Public JSON shapes of items and search results."""

from __future__ import annotations

from typing import Any

from archive.anonymise import Redactor
from archive.model import ItemRecord


def public_parties(record: ItemRecord, *, anonymised: bool) -> list[dict[str, Any]]:
    redactor = Redactor.for_parties(record.parties) if anonymised else None
    out = []
    for p in record.parties:
        address, name = p.address, p.name
        if redactor is not None:
            address = redactor.redact(address)
            name = redactor.redact(name) if name else None
        out.append({"role": p.role.value, "kind": p.kind.value, "address": address,
                    "name": name, "side": p.side.value, "channel_index": p.channel_index})
    return out


def public_record(record: ItemRecord, *, anonymised: bool = False) -> dict[str, Any]:
    return {
        "id": record.id,
        "channel": record.channel.value,
        "direction": record.direction.value,
        "source": record.source,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
        "duration_s": record.duration_s,
        "ingested_at": record.ingested_at.isoformat(),
        "status": record.status.value,
        "status_reason": record.status_reason,
        "transcript_status": record.transcript_status.value,
        "content_type": record.content_type,
        "size_bytes": record.size_bytes,
        "sha256": record.sha256,
        "restricted": record.restricted,
        "held": record.held,
        "thread_key": None if anonymised else record.thread_key,
        "parties": public_parties(record, anonymised=anonymised),
        "purposes": [
            {"purpose": t.purpose, "retain_until": t.retain_until.isoformat()}
            for t in record.purposes
        ],
    }
