"""sipp as the session recording client: two pcap streams, RFC 7865 metadata, BYE."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.index import SearchQuery
from archive.model import AddressKind, Direction, ItemStatus, PartyRole, Side
from ingest.audio import alaw_decode
from tests.ingest.sip.client import find_pcap, read_pcap_rtp
from tests.ingest.sip.conftest import RunningSip, quality_user, read_call, voiced_extent_s
from tests.ingest.sip.sipp import run_siprec

pytestmark = pytest.mark.service


def pcap_audio() -> tuple[float, float]:
    """(duration, time of the first voiced sample) of sipp's g711a.pcap."""
    packets = read_pcap_rtp(find_pcap("g711a.pcap"))
    pcm = alaw_decode(b"".join(p[12:] for _, p in packets))
    return packets[-1][0] + (len(packets[-1][1]) - 12) / 8000, voiced_extent_s(pcm)[0]


def test_sipp_siprec_call_is_archived_with_two_aligned_channels_and_metadata_parties(
    sip: RunningSip, tmp_path: Path
) -> None:
    run = run_siprec(sip.port, tmp_path)
    assert run.src_rc == 0 and run.media_rc == 0, run.log
    sip.wait_idle()
    [item_id] = sip.handle.archived
    record = sip.archive.record(item_id)
    assert record.status is ItemStatus.OK
    audio, details = read_call(sip.archive, item_id)
    assert audio.sample_rate == 8000 and len(audio.channels) == 2

    expected, voice_at = pcap_audio()  # 7.08 s of A-law in 30 ms packets
    starts = []
    for pcm in audio.channels:
        assert abs(len(pcm) / 16000 - expected) < 0.1
        starts.append(voiced_extent_s(pcm)[0])
        assert abs(starts[-1] - voice_at) < 0.1
    assert abs(starts[0] - starts[1]) < 0.05  # both streams started together: aligned
    assert abs(details["duration_s"] - expected) < 0.1
    assert sip.handle.counters.rtp_events == 10  # dtmf_2833_1.pcap: ignored, not audio

    parties = {p.name: p for p in record.parties}
    jan, agent = parties["Jan Jansen"], parties["Agent Smith"]
    assert (jan.address, jan.kind, jan.side, jan.channel_index) == (
        "+31201234567",
        AddressKind.PHONE,
        Side.CUSTOMER,
        0,
    )
    assert (agent.address, agent.side, agent.channel_index) == ("+31205550123", Side.AGENT, 1)
    assert jan.role is PartyRole.CALLER and record.direction is Direction.INBOUND
    assert [c["participant"] for c in details["channels"]] == ["Jan Jansen", "Agent Smith"]
    assert [c["side"] for c in details["channels"]] == ["customer", "agent"]
    assert details["session_id"].startswith("hVpd7YQgRW2nD22h7q60JQ==")


def test_sipp_call_is_findable_by_number_uri_and_name_before_any_transcript(
    sip: RunningSip, tmp_path: Path
) -> None:
    run = run_siprec(sip.port, tmp_path)
    assert run.src_rc == 0, run.log
    sip.wait_idle()
    [item_id] = sip.handle.archived
    user = quality_user(sip.archive)
    for text in ("+31201234567", "31201234567", "0201234567", '"Jan Jansen"', "Smith"):
        page = sip.archive.search(user, SearchQuery(text=text))
        assert [h.item_id for h in page.result.hits] == [item_id], text


@pytest.mark.slow
def test_fifty_concurrent_sipp_calls_are_all_archived_without_loss(
    sip: RunningSip, tmp_path: Path
) -> None:
    run = run_siprec(sip.port, tmp_path, calls=50, rate=50, timeout_s=90)
    assert run.src_rc == 0 and run.media_rc == 0, run.log
    sip.wait_idle(60)
    counters = sip.handle.counters
    assert len(sip.handle.archived) == 50, counters
    assert counters.rtp_packets == 50 * 2 * 236, counters
    assert counters.dropped_rtp == 0 and counters.rtp_events == 50 * 10, counters
    for item_id in sip.handle.archived[:5]:
        audio, _ = read_call(sip.archive, item_id)
        assert [round(len(c) / 16000, 1) for c in audio.channels] == [7.1, 7.1]
