"""Archive a file given on the command line (``commarchive ingest``)."""

from __future__ import annotations

from datetime import UTC, datetime

from archive.errors import InvalidRequest
from archive.model import IngestResult
from archive.service import Archive


def ingest_file(
    archive: Archive,
    name: str,
    data: bytes,
    *,
    channel: str | None,
    sidecar: bytes | None,
    actor: str,
) -> IngestResult:
    """An RFC 5322 message or a WAV (with an optional JSON sidecar), archived durably."""
    if channel is None:
        channel = "call" if name.lower().endswith(".wav") or data[:4] == b"RIFF" else "email"
    if channel == "email":
        if sidecar is not None:
            raise InvalidRequest("--meta is for calls; an e-mail carries its own headers")
        from ingest.email.item import Envelope, build_item

        envelope = Envelope(mail_from="", rcpt_tos=(), received_at=datetime.now(UTC))
        item = build_item(data, envelope, is_internal=archive.is_internal_address, source="cli")
        return archive.ingest(item, actor=actor)
    from ingest.calls import CallInputError, ingest_call_file

    try:
        return ingest_call_file(archive, data, sidecar, source="cli", actor=actor).ingest
    except CallInputError as exc:
        raise InvalidRequest(f"{name}: {exc.reason}") from None
