"""The SIPREC server against an independent hand-built client: signalling and media edge cases."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archive.errors import TemporaryFailure
from archive.model import ItemStatus
from ingest.audio import ulaw_decode
from tests.ingest.sip.client import (
    Dialog,
    Party,
    SiprecClient,
    metadata_xml,
    multipart,
    play,
    play_all,
    rtp,
    sdp_offer,
    tone_packets,
)
from tests.ingest.sip.conftest import RunningSip, read_call

JAN = Party("p1", "sip:+31201234567@carrier.example.net", "Jan Jansen", "s1", "1")
AGENT = Party("p2", "sip:agent7@pbx.example.com", "Agent Seven", "s2", "2")


def code_at(pcm: bytes, t: float) -> int:
    """The decoded sample value at time t (8 kHz)."""
    i = int(t * 8000) * 2
    return int.from_bytes(pcm[i : i + 2], "little", signed=True)


def spool_files(sip: RunningSip) -> list[Path]:
    directory = sip.archive.data_dir / "spool"
    return sorted(directory.glob("*.spool")) if directory.exists() else []


def test_options_is_answered_with_what_we_accept(sip: RunningSip) -> None:
    client = SiprecClient(sip.port)
    client.request("OPTIONS", Dialog(uuid.uuid4().hex, "t1"))
    resp = client.recv_final()
    assert resp.status == 200
    assert "INVITE" in resp.headers["allow"] and "rs-metadata" in resp.headers["accept"]


def test_call_over_tcp_is_recorded(sip: RunningSip) -> None:
    assert sip.handle.tcp_port is not None
    client = SiprecClient(sip.handle.tcp_port, tcp=True)
    dialog, resp = client.invite(["1", "2"], metadata_xml("sess-tcp", [JAN, AGENT]))
    assert resp.status == 200, resp.reason
    assert "+sip.srs" in resp.headers["contact"]
    play_all([(dialog.ports[0], tone_packets(1.0)), (dialog.ports[1], tone_packets(1.0, pt=8))])
    assert client.bye(dialog).status == 200
    [item_id] = sip.handle.archived
    audio, details = read_call(sip.archive, item_id)
    assert len(audio.channels) == 2 and abs(details["duration_s"] - 1.0) < 0.05


def test_a_quiet_tcp_connection_of_a_live_call_is_kept_and_an_idle_one_closed(
    make_sip: Callable[..., RunningSip],
) -> None:
    sip = make_sip(tcp_idle_timeout_s=0.3, rtp_inactivity_timeout_s=10.0)
    assert sip.handle.tcp_port is not None
    idle = socket.create_connection(("127.0.0.1", sip.handle.tcp_port), timeout=3)
    client = SiprecClient(sip.handle.tcp_port, tcp=True)
    dialog, resp = client.invite(["1"], metadata_xml("sess-quiet", [JAN, AGENT]))
    assert resp.status == 200, resp.reason
    play(dialog.ports[0], tone_packets(0.5))
    time.sleep(1.0)  # the call's connection says nothing for longer than the idle timeout
    assert idle.recv(100) == b""  # the idle one was closed
    idle.close()
    assert client.bye(dialog).status == 200  # the call's is still there
    assert len(sip.handle.archived) == 1


def test_lost_reordered_duplicated_rtp_and_silence_suppression_keep_the_timeline(
    sip: RunningSip,
) -> None:
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1", "2"], metadata_xml("sess-loss", [JAN, AGENT]), pts="0")
    assert resp.status == 200
    # Stream 1: 2 s of 20 ms packets; the packet at 0.5 s lost, 1.0 s and 1.02 s swapped,
    # 1.5 s sent twice, and 1.6-1.8 s suppressed (silence) with the marker on resumption.
    a = [(t, bytes(p)) for t, p in tone_packets(2.0, code=0x20, ssrc=1)]
    lost = {25}
    suppressed = set(range(80, 90))
    stream1 = [a[i] for i in range(len(a)) if i not in lost | suppressed]
    i50 = next(k for k, (t, _) in enumerate(stream1) if abs(t - 1.0) < 1e-9)
    stream1[i50], stream1[i50 + 1] = (
        (stream1[i50][0], stream1[i50 + 1][1]),
        (
            stream1[i50 + 1][0],
            stream1[i50][1],
        ),
    )
    dup = next(p for t, p in stream1 if abs(t - 1.5) < 1e-9)
    stream1.append((1.505, dup))
    stream1.sort(key=lambda x: x[0])
    # Stream 2: 2 s with an SSRC change (new timestamp base) at 1.0 s, plus DTMF events.
    b = tone_packets(1.0, code=0x40, ssrc=2, ts0=5000)
    b += [(1.0 + t, p) for t, p in tone_packets(1.0, code=0x60, ssrc=3, ts0=900000)]
    b += [
        (0.3 + k * 0.02, rtp(101, 7000 + k, 5000 + 2400, 2, b"\x05\x0a\x00\xa0")) for k in range(3)
    ]
    b.sort(key=lambda x: x[0])
    play_all([(dialog.ports[0], stream1), (dialog.ports[1], b)])
    assert client.bye(dialog).status == 200
    [item_id] = sip.handle.archived
    audio, _ = read_call(sip.archive, item_id)
    ch1, ch2 = audio.channels
    tone1 = int.from_bytes(ulaw_decode(b"\x20"), "little", signed=True)
    tone2a = int.from_bytes(ulaw_decode(b"\x40"), "little", signed=True)
    tone2b = int.from_bytes(ulaw_decode(b"\x60"), "little", signed=True)
    assert code_at(ch1, 0.40) == tone1
    assert code_at(ch1, 0.51) == 0  # the lost packet is silence, in its place
    assert code_at(ch1, 0.53) == tone1
    assert code_at(ch1, 1.01) == tone1 and code_at(ch1, 1.03) == tone1  # reordered, in place
    assert code_at(ch1, 1.70) == 0  # suppressed silence, gap kept from the timestamps
    assert code_at(ch1, 1.95) == tone1  # ... so what follows stays aligned
    assert abs(len(ch1) / 16000 - 2.0) < 0.03
    assert code_at(ch2, 0.5) == tone2a and code_at(ch2, 1.5) == tone2b
    assert abs(len(ch2) / 16000 - 2.0) < 0.05
    assert sip.handle.counters.rtp_packets == len(stream1) - 1 + 100


def test_reinvite_hold_added_and_removed_streams_and_metadata_update(sip: RunningSip) -> None:
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1", "2"], metadata_xml("sess-re", [JAN, AGENT]))
    assert resp.status == 200
    first_ports = dialog.ports
    play_all([(first_ports[0], tone_packets(0.5)), (first_ports[1], tone_packets(0.5))])
    # A third participant joins with stream 3; stream 2 is removed (port 0); partial metadata.
    boss = Party("p3", "tel:+31205550999", "Team Lead", "s3", "3")
    xml = metadata_xml("sess-re", [JAN, boss]).replace("complete", "partial")
    sdp = sdp_offer(["1", "2", "3"], ports=[40000, 0, 40004])
    ctype, body = multipart(sdp, xml)
    dialog.cseq += 1
    client.request("INVITE", dialog, content_type=ctype, body=body)
    re_resp = client.recv_final()
    assert re_resp.status == 200
    client.request("ACK", dialog, branch="z9hG4bK" + uuid.uuid4().hex[:12])
    ports = re_resp.ports()
    assert ports[0] == first_ports[0] and ports[1] == 0 and ports[2] not in (0, *first_ports)
    play_all([(ports[0], tone_packets(0.5)), (ports[2], tone_packets(0.5))])
    # Hold (a=inactive) keeps the ports.
    held = sdp_offer(["1", "3"], ports=[40000, 40004]).replace("a=sendonly", "a=inactive")
    dialog.cseq += 1
    client.request("INVITE", dialog, content_type="application/sdp", body=held)
    hold_resp = client.recv_final()
    assert hold_resp.status == 200 and hold_resp.ports() == [ports[0], ports[2]]
    client.request("ACK", dialog, branch="z9hG4bK" + uuid.uuid4().hex[:12])
    assert client.bye(dialog).status == 200
    [item_id] = sip.handle.archived
    audio, details = read_call(sip.archive, item_id)
    assert [c["label"] for c in details["channels"]] == ["1", "2", "3"]
    assert details["channels"][2]["participant"] == "Team Lead"
    record = sip.archive.record(item_id)
    assert {p.name for p in record.parties} == {"Jan Jansen", "Agent Seven", "Team Lead"}
    assert code_at(audio.channels[2], 0.2) == 0 and code_at(audio.channels[2], 0.7) != 0


def test_cancel_before_answer_creates_nothing(make_sip: Callable[..., RunningSip]) -> None:
    sip = make_sip(answer_delay_s=1.0)
    client = SiprecClient(sip.port)
    dialog = Dialog(uuid.uuid4().hex, "c1")
    ctype, body = multipart(sdp_offer(["1"]), metadata_xml("sess-cancel", [JAN]))
    client.request("INVITE", dialog, content_type=ctype, body=body)
    assert client.recv().status == 100
    invite_branch = dialog.branch
    client.request("CANCEL", dialog, branch=invite_branch)
    statuses = {client.recv().status, client.recv().status}
    assert statuses == {200, 487}
    time.sleep(1.2)
    assert sip.handle.archived == [] and sip.handle.active_calls() == {}
    assert spool_files(sip) == []


def test_a_new_call_gets_503_while_the_index_backlog_is_over_its_limit(
    sip: RunningSip, monkeypatch: pytest.MonkeyPatch
) -> None:
    backlog: list[str] = ["index backlog of 2001 items (limit 2000)"]
    monkeypatch.setattr(sip.archive, "index_backlog", lambda: backlog[0] if backlog else None)
    client = SiprecClient(sip.port)
    _, refused = client.invite(["1"], metadata_xml("sess-backlog", [JAN]))
    assert refused.status == 503 and refused.headers.get("retry-after")
    assert sip.handle.active_calls() == {}
    backlog.clear()  # caught up: the SBC's retry is recorded
    dialog, answer = client.invite(["1"], metadata_xml("sess-backlog-2", [JAN]))
    assert answer.status == 200, answer.reason
    play_all([(dialog.ports[0], tone_packets(0.5))])
    assert client.bye(dialog).status == 200
    assert len(sip.handle.archived) == 1


def test_call_without_bye_is_archived_as_truncated_after_rtp_inactivity(sip: RunningSip) -> None:
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1", "2"], metadata_xml("sess-nobye", [JAN, AGENT]))
    assert resp.status == 200
    play_all([(dialog.ports[0], tone_packets(1.0)), (dialog.ports[1], tone_packets(1.0))])
    sip.wait_idle(10)  # inactivity timeout is 3 s in the test config
    [item_id] = sip.handle.archived
    record = sip.archive.record(item_id)
    assert record.status is ItemStatus.TRUNCATED and "inactivity" in (record.status_reason or "")
    bye = client.recv()  # the server ends the session itself
    assert bye.raw.startswith(b"BYE ")


def test_retransmitted_invite_and_bye_create_one_item(sip: RunningSip) -> None:
    client = SiprecClient(sip.port)
    dialog = Dialog(uuid.uuid4().hex, "r1")
    ctype, body = multipart(sdp_offer(["1"]), metadata_xml("sess-dup", [JAN]))
    raw = client.request("INVITE", dialog, content_type=ctype, body=body)
    client.send_raw(raw)
    client.send_raw(raw)
    finals = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and len(finals) < 2:
        resp = client.recv()
        if resp.status == 200:
            finals.append(resp)
    assert len({f.body for f in finals}) == 1  # the same answer, not a second session
    dialog.to_tag = finals[0].headers["to"].split("tag=")[1]
    client.request("ACK", dialog, branch="z9hG4bKack1")
    play(finals[0].ports()[0], tone_packets(0.4))
    dialog.cseq += 1
    bye = client.request("BYE", dialog)
    client.send_raw(bye)  # retransmitted while the recording is being archived: absorbed
    assert client.recv_final().status == 200
    client.send_raw(bye)  # retransmitted after the answer: the same answer again
    assert client.recv_final().status == 200
    sip.wait_idle()
    assert len(sip.handle.archived) == 1
    assert sip.handle.counters.calls_started == 1


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda m: m.replace(b"CSeq: 1 INVITE", b"CSeq: x INVITE"), b"Bad CSeq"),
        (lambda m: m.replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"), b"CSeq Method Mismatch"),
        (lambda m: m.replace(b"\r\nCall-ID:", b"\r\nX-Call-ID:"), b"Missing Call-Id Header"),
        (lambda m: m.replace(b"Content-Length: ", b"Content-Length: 9"), b"Truncated Body"),
        (lambda m: m.replace(b"m=audio 40000", b"m=audio notaport"), b"Malformed SDP"),
        (lambda m: m.replace(b"</recording>", b"<recording>!"), b"Malformed Metadata"),
        (lambda m: m.replace(b"Max-Forwards: 70", b"Bad Header Without Colon"), b"Bad Header"),
    ],
)
def test_malformed_invites_get_400_with_a_reason(
    sip: RunningSip, mutate: Callable[[bytes], bytes], reason: bytes
) -> None:
    ctype, body = multipart(sdp_offer(["1"]), metadata_xml("sess-bad", [JAN]))
    client = SiprecClient(sip.port)
    dialog = Dialog("bad-" + uuid.uuid4().hex, "b1")
    raw = client.request("INVITE", dialog, content_type=ctype, body=body, send=False)
    client.send_raw(mutate(raw))
    while True:
        resp = client.recv()
        if resp.status >= 200 and reason in resp.raw.split(b"\r\n")[0]:
            break
        assert resp.status < 300, resp.raw[:200]
    assert resp.status == 400
    assert sip.handle.archived == [] and sip.handle.active_calls() == {}


def test_entity_expansion_in_metadata_is_refused(sip: RunningSip) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<recording xmlns="urn:ietf:params:xml:ns:recording:1">&b;</recording>'
    )
    client = SiprecClient(sip.port)
    _, resp = client.invite(["1"], bomb)
    assert resp.status == 400 and "Metadata" in resp.reason


def test_unsupported_codecs_get_488_or_a_declined_stream(sip: RunningSip) -> None:
    client = SiprecClient(sip.port)
    _, resp = client.invite(["1"], metadata_xml("sess-g729", [JAN]), pts="18")
    assert resp.status == 488
    # One recordable stream and one G.729-only stream: the latter is declined (port 0).
    dialog = Dialog(uuid.uuid4().hex, "d1")
    offer = sdp_offer(["1"]) + "m=audio 40002 RTP/AVP 18\r\na=label:2\r\na=sendonly\r\n"
    ctype, body = multipart(offer, metadata_xml("sess-mixed", [JAN, AGENT]))
    client.request("INVITE", dialog, content_type=ctype, body=body)
    resp = client.recv_final()
    assert resp.status == 200
    ports = resp.ports()
    assert ports[0] != 0 and ports[1] == 0


def test_garbage_and_oversized_datagrams_are_dropped_and_counted(sip: RunningSip) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.sendto(b"\x00\xff garbage \x01" * 10, ("127.0.0.1", sip.port))
    sock.sendto(b"INVITE " + b"A" * 65000, ("127.0.0.1", sip.port))
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1"], metadata_xml("sess-junk", [JAN]))
    sock.sendto(b"\x12" * 100, ("127.0.0.1", dialog.ports[0]))  # not RTP v2
    sock.sendto(b"\x80" * 1600, ("127.0.0.1", dialog.ports[0]))  # oversized
    time.sleep(0.2)
    counters = sip.handle.counters
    assert counters.dropped_sip >= 2 and counters.dropped_rtp >= 2
    assert resp.status == 200
    play(dialog.ports[0], tone_packets(0.2))
    assert client.bye(dialog).status == 200


def test_session_interval_too_small_gets_422_and_expiry_truncates(
    make_sip: Callable[..., RunningSip],
) -> None:
    sip = make_sip(min_session_expires_s=2, session_expires_s=2, rtp_inactivity_timeout_s=30)
    client = SiprecClient(sip.port)
    _, resp = client.invite(
        ["1"], metadata_xml("sess-se1", [JAN]), extra=("Session-Expires: 1", "Supported: timer")
    )
    assert resp.status == 422 and resp.headers["min-se"] == "2"
    dialog, resp = client.invite(
        ["1"], metadata_xml("sess-se2", [JAN]), extra=("Session-Expires: 2", "Supported: timer")
    )
    assert resp.status == 200 and resp.headers["session-expires"].startswith("2")
    play(dialog.ports[0], tone_packets(0.3))
    sip.wait_idle(10)
    [item_id] = sip.handle.archived
    record = sip.archive.record(item_id)
    assert record.status is ItemStatus.TRUNCATED and "session timer" in (record.status_reason or "")


def test_spool_holds_no_plaintext_while_the_call_runs(sip: RunningSip) -> None:
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1", "2"], metadata_xml("sess-plain", [JAN, AGENT]))
    assert resp.status == 200
    payload = bytes([0x33]) * 160
    packets = [(i * 0.02, rtp(0, i, i * 160, 9, payload)) for i in range(100)]
    play(dialog.ports[0], packets)
    time.sleep(0.5)  # past a housekeeping flush
    [spool] = spool_files(sip)
    data = spool.read_bytes()
    assert len(data) > 16000  # the audio is in there ...
    for secret in (b"Jan Jansen", b"31201234567", b"carrier.example", payload[:16], b"sess-plain"):
        assert secret not in data  # ... but sealed
    assert client.bye(dialog).status == 200
    assert spool_files(sip) == []  # removed once the item is durable


def test_bye_waits_for_the_archive_and_a_failed_archive_keeps_the_spool_for_retry(
    make_sip: Callable[..., RunningSip], monkeypatch: pytest.MonkeyPatch
) -> None:
    sip = make_sip(bye_archive_timeout_s=0.5)
    real_ingest = sip.archive.ingest
    down = {"on": True}

    def flaky(item: Any, **kw: Any) -> Any:
        if down["on"]:
            raise TemporaryFailure("ingest", reason="store down (test)")
        return real_ingest(item, **kw)

    monkeypatch.setattr(sip.archive, "ingest", flaky)
    client = SiprecClient(sip.port)
    dialog, _ = client.invite(["1"], metadata_xml("sess-down", [JAN]))
    play(dialog.ports[0], tone_packets(0.5))
    resp = client.bye(dialog)
    assert resp.status == 500  # not acknowledged: the recording is not durable yet
    assert sip.handle.archived == [] and len(spool_files(sip)) == 1
    down["on"] = False
    deadline = time.monotonic() + 10
    while not sip.handle.archived and time.monotonic() < deadline:
        time.sleep(0.1)
    [item_id] = sip.handle.archived
    assert sip.archive.record(item_id).status is ItemStatus.OK  # it had ended cleanly
    assert spool_files(sip) == []


def test_a_call_on_hold_is_not_ended_by_the_rtp_inactivity_timeout(sip: RunningSip) -> None:
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1"], metadata_xml("sess-hold", [JAN]))
    assert resp.status == 200
    play(dialog.ports[0], tone_packets(0.3))
    for direction, pause in (("a=inactive", 4.0), ("a=sendonly", 0.0)):
        dialog.cseq += 1
        offer = sdp_offer(["1"]).replace("a=sendonly", direction)
        client.request("INVITE", dialog, content_type="application/sdp", body=offer)
        assert client.recv_final().status == 200
        client.request("ACK", dialog, branch="z9hG4bK" + uuid.uuid4().hex[:12])
        time.sleep(pause)  # longer than the 3 s inactivity timeout
    assert sip.handle.active_calls(), "the held call was ended"
    play(dialog.ports[0], tone_packets(0.3, ts0=1000 + 8000 * 5))
    assert client.bye(dialog).status == 200
    [item_id] = sip.handle.archived
    assert sip.archive.record(item_id).status is ItemStatus.OK
