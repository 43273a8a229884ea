"""Turn a file given on the command line into an archive item."""

from __future__ import annotations

from datetime import UTC, datetime

from archive.errors import InvalidRequest
from archive.model import NewItem
from archive.service import Archive


def build_item_from_file(
    archive: Archive,
    name: str,
    data: bytes,
    *,
    channel: str | None,
    sidecar: bytes | None,
) -> NewItem:
    """An RFC 5322 message or a WAV (with an optional JSON sidecar) as a NewItem."""
    if channel is None:
        channel = "call" if name.lower().endswith(".wav") or data[:4] == b"RIFF" else "email"
    if channel == "email":
        if sidecar is not None:
            raise InvalidRequest("--meta is for calls; an e-mail carries its own headers")
        from ingest.email.item import Envelope, build_item

        envelope = Envelope(mail_from="", rcpt_tos=(), received_at=datetime.now(UTC))
        return build_item(data, envelope, is_internal=archive.config.is_internal_address,
                          source="cli")
    from ingest.calls import (
        CallInputError,
        NumberingPlan,
        Sidecar,
        build_call_item,
        parse_sidecar,
        recording_from_file,
    )

    try:
        meta = (parse_sidecar(sidecar) if sidecar is not None else
                Sidecar(call_id=None, from_=None, to=None, agent=None, direction=None,
                        start=datetime.now(UTC)))
        plan = NumberingPlan.from_archive(archive)
        return build_call_item(recording_from_file(data, meta, source="cli", plan=plan), plan)
    except CallInputError as exc:
        raise InvalidRequest(f"{name}: {exc.reason}") from None
