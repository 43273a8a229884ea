"""Who may talk to the recording server: a SIP allowlist, and RTP latched to its first source."""

from __future__ import annotations

import uuid
from collections.abc import Callable

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
