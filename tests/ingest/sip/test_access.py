"""Who may talk to the recording server: a SIP allowlist; RTP only from the negotiated
addresses, latched to its first source; a call that never carries audio holds nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ingest.audio import ulaw_decode
from tests.ingest.sip.client import Dialog, SiprecClient, metadata_xml, play, tone_packets
from tests.ingest.sip.conftest import RunningSip, read_call
from tests.ingest.sip.test_server import AGENT, JAN, code_at


def test_sip_from_outside_the_allowlist_gets_403_and_no_call(
    make_sip: Callable[..., RunningSip],
) -> None:
    sip = make_sip(allowlist=("192.0.2.0/24",))  # 127.0.0.1 is not in it
    client = SiprecClient(sip.port)
    client.request("OPTIONS", Dialog(uuid.uuid4().hex, "t1"))
    assert client.recv_final().status == 403
    _, resp = client.invite(["1"], metadata_xml("sess-deny", [JAN]))
    assert resp.status == 403
    assert sip.handle.counters.refused == 2 and sip.handle.counters.calls_started == 0


def test_rtp_from_a_second_source_cannot_get_into_the_recording(sip: RunningSip) -> None:
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1", "2"], metadata_xml("sess-latch", [JAN, AGENT]))
    assert resp.status == 200
    play(dialog.ports[0], tone_packets(1.0, code=0x55))
    # Another socket (another source port) injects different audio later in the call.
    play(dialog.ports[0], tone_packets(1.0, code=0x33, ts0=1000 + 8000, ssrc=0x9999))
    assert client.bye(dialog).status == 200
    [item_id] = sip.handle.archived
    audio, _ = read_call(sip.archive, item_id)
    injected = int.from_bytes(ulaw_decode(bytes([0x33])), "little", signed=True)
    assert code_at(audio.channels[0], 0.5) != injected
    assert all(code_at(audio.channels[0], t / 10) != injected for t in range(10, 19))
    assert sip.handle.counters.rtp_foreign == 50


def test_rtp_from_an_address_not_negotiated_is_dropped_even_when_it_comes_first(
    sip: RunningSip,
) -> None:
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1"], metadata_xml("sess-inject", [JAN]))
    assert resp.status == 200
    # An injector on another host sprays the port before the SRC's first packet.
    play(dialog.ports[0], tone_packets(0.2, code=0x33, ssrc=0x9999), source="127.0.0.2")
    play(dialog.ports[0], tone_packets(1.0, code=0x55))
    assert client.bye(dialog).status == 200
    [item_id] = sip.handle.archived
    audio, _ = read_call(sip.archive, item_id)
    injected = int.from_bytes(ulaw_decode(bytes([0x33])), "little", signed=True)
    wanted = int.from_bytes(ulaw_decode(bytes([0x55])), "little", signed=True)
    samples = [code_at(audio.channels[0], t / 10) for t in range(0, 12)]
    assert injected not in samples and wanted in samples
    assert sip.handle.counters.rtp_foreign == 10


def test_rtp_from_the_offers_media_address_is_recorded(sip: RunningSip) -> None:
    # The SRC's media comes from another host than its signalling (a media server).
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1"], metadata_xml("sess-media", [JAN]), media_host="127.0.0.3")
    assert resp.status == 200
    play(dialog.ports[0], tone_packets(1.0, code=0x55), source="127.0.0.3")
    assert client.bye(dialog).status == 200
    [item_id] = sip.handle.archived
    _, details = read_call(sip.archive, item_id)
    assert abs(details["duration_s"] - 1.0) < 0.05 and sip.handle.counters.rtp_foreign == 0


def spools(sip: RunningSip) -> list[Path]:
    directory = sip.archive.data_dir / "spool"
    return sorted(directory.glob("*.spool")) if directory.exists() else []


def test_a_call_held_from_the_start_without_audio_is_ended_and_not_archived(
    make_sip: Callable[..., RunningSip],
) -> None:
    # Before: held streams refreshed the inactivity clock, so a call that never sent a
    # packet kept its slot until the maximum duration (6 h).
    sip = make_sip(rtp_inactivity_timeout_s=1.0)
    client = SiprecClient(sip.port)
    _, resp = client.invite(["1", "2"], metadata_xml("sess-mute", [JAN, AGENT]),
                            direction="a=inactive")
    assert resp.status == 200
    deadline = time.monotonic() + 10
    while sip.handle.active_calls() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sip.handle.active_calls() == {}
    sip.wait_idle(5)
    # No audio, no recording: no item naming Jan and the agent as having spoken.
    assert sip.handle.archived == [] and sip.archive.item_ids() == []
    assert spools(sip) == [] and sip.handle.counters.calls_without_audio == 1


def test_a_call_ended_by_bye_without_any_audio_is_not_archived(sip: RunningSip) -> None:
    # Before: archived as a 0-second call with the parties the metadata claimed.
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1", "2"], metadata_xml("sess-none", [JAN, AGENT]))
    assert resp.status == 200
    assert client.bye(dialog).status == 200
    sip.wait_idle(5)
    assert sip.handle.archived == [] and sip.archive.item_ids() == []
    assert spools(sip) == [] and sip.handle.counters.calls_without_audio == 1
