"""Call items from any path: number normalisation, agent/customer side, search text, details."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archive.model import AddressKind, Direction, PartyRole, Side
from ingest.audio import write_wav
from ingest.calls import (
    CallInputError,
    CallParticipant,
    CallRecording,
    NumberingPlan,
    build_call_item,
    is_internal,
    normalise_address,
    parse_sidecar,
)

PLAN = NumberingPlan(
    default_region="NL", internal_numbers=("+3120555",), internal_sip_domains=("pbx.example.com",)
)


@pytest.mark.parametrize(
    ("raw", "kind", "address", "variants"),
    [
        (
            "sip:+31201234567@carrier.net;user=phone",
            AddressKind.PHONE,
            "+31201234567",
            {"+31201234567", "31201234567", "0201234567"},
        ),
        ("tel:+31-20-123-4567", AddressKind.PHONE, "+31201234567", {"0201234567"}),
        ("<sip:020 123 4567@pbx.example.com>", AddressKind.PHONE, "+31201234567", {"31201234567"}),
        ("0031201234567", AddressKind.PHONE, "+31201234567", {"+31201234567"}),
        ("sip:Alice@Example.COM", AddressKind.SIP, "sip:alice@example.com", {"Alice"}),
        ("sip:1001@pbx.example.com", AddressKind.SIP, "sip:1001@pbx.example.com", {"1001"}),
        ("Jan Jansen", AddressKind.NAME, "Jan Jansen", {"Jan Jansen"}),
    ],
)
def test_normalise_address(raw: str, kind: AddressKind, address: str, variants: set[str]) -> None:
    got = normalise_address(raw, PLAN)
    assert (got.kind, got.address) == (kind, address)
    assert variants <= set(got.variants)


@pytest.mark.parametrize("raw", [
    "sip:agent7@pbx.example.com:5060", "<sip:agent7@PBX.example.com:5061;transport=tcp>",
    "sip:agent7@sub.pbx.example.com",
])
def test_an_agent_uri_with_a_port_is_still_internal(raw: str) -> None:
    # Ports are not part of the domain (as ArchiveConfig.is_internal_sip reads it): an
    # agent must never become a data subject because the PBX added one.
    assert is_internal(normalise_address(raw, PLAN), PLAN)
    assert not is_internal(normalise_address("sip:jan@customer.nl:5060", PLAN), PLAN)


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
    rec = recording_from_file(wav, side, source="t", plan=PLAN)
    by_role = {p.role: p for p in rec.participants}
    assert by_role[PartyRole.CALLER].channel_index == 1  # the customer called in
    assert by_role[PartyRole.CALLEE].channel_index == 0
    assert by_role[PartyRole.CALLEE].side is Side.AGENT
