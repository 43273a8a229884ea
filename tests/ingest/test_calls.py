"""Call items from any path: number normalisation, agent/customer side, search text, details."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.config import ArchiveConfig
from archive.model import Direction, PartyRole, Side
from archive.service import Archive
from ingest.audio import write_wav
from ingest.calls import (
    CallInputError,
    CallParticipant,
    CallRecording,
    build_call_item,
    ingest_call_file,
    parse_sidecar,
)
from ingest.errors import IngestError

PLAN = ArchiveConfig(
    default_region="NL", internal_numbers=("+3120555",), internal_sip_domains=("pbx.example.com",)
)


def test_call_item_parties_sides_direction_sections_and_details() -> None:
    rec = CallRecording(
        source="test",
        sample_rate=8000,
        channels=[b"\x01\x00" * 8000, b"\x02\x00" * 4000],
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        participants=[
            CallParticipant("sip:+31612345678@carrier.net", "Jan", PartyRole.CALLER, 0),
            CallParticipant("sip:agent7@pbx.example.com", "Agent", PartyRole.CALLEE, 1),
        ],
        channel_labels=["a", "b"],
    )
    item = build_call_item(rec, PLAN)
    assert item.direction is Direction.INBOUND and item.transcribe
    assert [(p.address, p.side) for p in item.parties] == [
        ("+31612345678", Side.CUSTOMER),
        ("sip:agent7@pbx.example.com", Side.AGENT),
    ]
    [section] = item.sections
    assert section.kind == "parties"
    for term in ("+31612345678", "31612345678", "0612345678", "Jan", "sip:agent7@pbx.example.com"):
        assert term in section.text.split("\n")
    assert item.details["duration_s"] == 1.0
    assert item.details["channels"][1] == {
        "index": 1,
        "label": "b",
        "participant": "Agent",
        "aor": "sip:agent7@pbx.example.com",
        "side": "agent",
    }
    assert item.original[:4] == b"RIFF" and item.ended_at is not None


def test_sidecar_validation() -> None:
    ok = parse_sidecar(b'{"from": "+31201234567", "start": "2026-01-01T10:00:00"}')
    assert ok.start.tzinfo is not None and ok.direction is None
    for bad in (
        b"[]",
        b'{"start": "2026-01-01"}',
        b'{"from": "x", "start": "yesterday"}',
        b'{"from": "x", "start": "2026-01-01", "channels": "ab"}',
        b"\xff",
    ):
        with pytest.raises(CallInputError):
            parse_sidecar(bad)


def test_sidecar_channels_map_agent_and_customer() -> None:
    from ingest.calls import recording_from_file

    wav = write_wav(8000, [b"\x01\x00" * 800, b"\x02\x00" * 800])
    side = parse_sidecar(
        {
            "from": "+31201234567",
            "to": "+31205550123",
            "start": "2026-01-01T10:00:00Z",
            "channels": ["agent", "customer"],
            "direction": "inbound",
        }
    )
    rec = recording_from_file(wav, side, source="t", config=PLAN)
    by_role = {p.role: p for p in rec.participants}
    assert by_role[PartyRole.CALLER].channel_index == 1  # the customer called in
    assert by_role[PartyRole.CALLEE].channel_index == 0
    assert by_role[PartyRole.CALLEE].side is Side.AGENT


# -- ingest_call_file: the one way in for drop folder, upload and CLI -----------------

CALL_SIDECAR = (
    b'{"call_id": "f-1", "from": "+31201234567", "to": "+31205550123",'
    b' "agent": "+31205550123", "start": "2026-01-01T10:00:00Z"}'
)


def test_call_file_is_archived_once_with_its_duration_and_channels(archive: Archive) -> None:
    wav = write_wav(8000, [b"\x01\x00" * 12000, b"\x02\x00" * 12000])
    first = ingest_call_file(archive, wav, CALL_SIDECAR, source="t", actor="tester")
    assert first.ingest.created and first.duration_s == 1.5 and first.channels == 2
    record = archive.record(first.ingest.item_id)
    assert record.source == "t"
    assert {p.address: p.side for p in record.parties} == {
        "+31201234567": Side.CUSTOMER,
        "+31205550123": Side.AGENT,
    }
    again = ingest_call_file(archive, wav, CALL_SIDECAR, source="t", actor="tester")
    assert not again.ingest.created and again.ingest.item_id == first.ingest.item_id


def test_call_file_reads_the_sidecar_before_the_audio(archive: Archive, tmp_path: Path) -> None:
    missing = tmp_path / "never-written.wav"
    with pytest.raises(CallInputError, match="not valid JSON"):
        ingest_call_file(archive, missing, b"{broken", source="t", actor="tester")
    audio = tmp_path / "call.wav"
    audio.write_bytes(write_wav(8000, [b"\x01\x00" * 800]))
    done = ingest_call_file(archive, audio, CALL_SIDECAR, source="t", actor="tester")
    assert done.ingest.created and done.channels == 1


@pytest.mark.parametrize(
    ("wav", "reason"),
    [(b"junk", "audio: not a recognised recording format"),
     (write_wav(8000, [b""]), "audio: PCM WAV: no audio samples")],
)
def test_call_file_refuses_bad_audio_with_one_error_type(
    archive: Archive, wav: bytes, reason: str
) -> None:
    with pytest.raises(CallInputError) as caught:
        ingest_call_file(archive, wav, CALL_SIDECAR, source="t", actor="tester")
    assert caught.value.reason.startswith(reason)
    assert isinstance(caught.value, IngestError) and archive.item_ids() == []


def test_call_file_without_sidecar_is_dated_now_with_no_parties(archive: Archive) -> None:
    before = datetime.now(UTC)
    done = ingest_call_file(
        archive, write_wav(8000, [b"\x01\x00" * 800]), None, source="cli", actor="cli"
    )
    record = archive.record(done.ingest.item_id)
    assert not record.parties and record.started_at >= before.replace(microsecond=0)


# -- re-uploads and mono channel maps -------------------------------------------------


def test_reupload_with_the_same_call_id_merges_its_new_parties(archive: Archive) -> None:
    from archive.rights import find_subject

    wav = write_wav(8000, [b"\x01\x00" * 800, b"\x02\x00" * 800])
    first = ingest_call_file(archive, wav, CALL_SIDECAR, source="t", actor="tester")
    more = (b'{"call_id": "f-1", "from": "+31687654321", "to": "+31205550123",'
            b' "agent": "+31205550123", "start": "2026-01-01T10:00:00Z"}')
    again = ingest_call_file(archive, wav, more, source="t", actor="tester")
    assert again.ingest.item_id == first.ingest.item_id and not again.ingest.created
    assert again.ingest.merged_parties == 1
    assert "+31687654321" in {p.address for p in archive.record(first.ingest.item_id).parties}
    assert find_subject(archive, "+31687654321").party_items == (first.ingest.item_id,)


def test_reupload_of_the_same_audio_as_another_call_is_refused_with_a_clear_error(
    archive: Archive,
) -> None:
    """The same WAV cannot be two calls: a new call id is a mix-up for a person to check,
    never silently folded into the archived call."""
    wav = write_wav(8000, [b"\x01\x00" * 800, b"\x02\x00" * 800])
    first = ingest_call_file(archive, wav, CALL_SIDECAR, source="t", actor="tester")
    other = (b'{"call_id": "f-2", "from": "+31687654321", "to": "+31205550124",'
             b' "start": "2026-02-02T11:00:00Z"}')
    with pytest.raises(CallInputError) as caught:
        ingest_call_file(archive, wav, other, source="t", actor="tester")
    reason = caught.value.reason
    assert first.ingest.item_id in reason and "'f-1'" in reason and "'f-2'" in reason
    record = archive.record(first.ingest.item_id)
    assert {p.address for p in record.parties} == {"+31201234567", "+31205550123"}
    assert archive.item_ids() == [first.ingest.item_id]


def test_a_mono_recording_mapped_to_the_customer_is_never_labelled_agent(
    archive: Archive,
) -> None:
    from ingest.transcription.transcript import speaker_labels

    wav = write_wav(8000, [b"\x01\x00" * 800])
    sidecar = (b'{"call_id": "m-1", "from": "+31201234567", "to": "+31205550123",'
               b' "channels": ["customer"], "start": "2026-01-01T10:00:00Z"}')
    done = ingest_call_file(archive, wav, sidecar, source="t", actor="tester")
    record = archive.record(done.ingest.item_id)
    owners = {p.address: (p.side, p.channel_index) for p in record.parties}
    assert owners == {"+31201234567": (Side.CUSTOMER, 0), "+31205550123": (Side.AGENT, None)}
    assert speaker_labels(record.parties, 1) == ["customer"]
