"""RTP placement on the call timeline, and the sealed spool (ingest.sip.rtp, ingest.sip.spool)."""

from __future__ import annotations

from pathlib import Path

import pytest

import keys
from ingest.sip.rtp import StreamTimeline, build_rtp, parse_rtp
from ingest.sip.sdp import Codec
from ingest.sip.spool import SpoolWriter, is_live, list_spools, read_spool


def pkt(seq: int, ts: int, ssrc: int = 1, pt: int = 0, n: int = 160) -> bytes:
    return build_rtp(pt, seq, ts, ssrc, b"\x01" * n)


def test_parse_rejects_non_rtp_and_handles_csrc_extension_and_padding() -> None:
    assert parse_rtp(b"\x00" * 20) is None  # version 0
    assert parse_rtp(b"\x80\xc8" + b"\x00" * 30) is None  # RTCP SR
    assert parse_rtp(b"\x80" * 5) is None
    raw = bytearray(build_rtp(0, 1, 2, 3, b"abcd" + b"\x00\x00\x00\x04"))
    raw[0] |= 0x20 | 0x01  # padding + one CSRC
    raw[12:12] = b"CSRC"
    p = parse_rtp(bytes(raw))
    assert p is not None and p.payload == b"abcd"


def test_timeline_places_by_timestamp_and_wall_clock() -> None:
    tl = StreamTimeline({0: Codec.PCMU, 101: Codec.TELEPHONE_EVENT})
    first = parse_rtp(pkt(10, 5000))
    assert first is not None and tl.place(first, 0.25) == (2000, Codec.PCMU)  # starts at 0.25 s
    lost_then = parse_rtp(pkt(12, 5320))
    assert lost_then is not None and tl.place(lost_then, 0.29) == (2320, Codec.PCMU)
    late = parse_rtp(pkt(11, 5160))
    assert late is not None and tl.place(late, 0.30) == (2160, Codec.PCMU)  # reordered: in place
    assert tl.place(late, 0.31) is None and tl.stats.duplicates == 1
    event = parse_rtp(pkt(13, 5480, pt=101, n=4))
    assert event is not None and tl.place(event, 0.32) is None and tl.stats.events == 1
    wrapped = StreamTimeline({0: Codec.PCMU})
    a, b = parse_rtp(pkt(1, 0xFFFFFF60)), parse_rtp(pkt(2, 0x00000000))
    assert a is not None and b is not None
    assert wrapped.place(a, 0.0) == (0, Codec.PCMU) and wrapped.place(b, 0.02) == (160, Codec.PCMU)


def test_new_ssrc_continues_the_stream_and_a_wild_jump_resyncs() -> None:
    tl = StreamTimeline({8: Codec.PCMA})
    for i in range(50):
        p = parse_rtp(pkt(i, 1000 + 160 * i, pt=8))
        assert p is not None and tl.place(p, 0.02 * i) is not None
    other = parse_rtp(pkt(7, 999999, ssrc=2, pt=8))
    assert other is not None and tl.place(other, 1.01) == (8000, Codec.PCMA)  # snapped to the end
    jump = parse_rtp(pkt(8, 999999 + 160 + 8000 * 3600, ssrc=2, pt=8))
    assert jump is not None and tl.place(jump, 1.03) == (8240, Codec.PCMA)
    assert tl.stats.ssrc_changes == 1 and tl.stats.resyncs == 1


@pytest.fixture
def ring(tmp_path: Path) -> keys.Keyring:
    return keys.Keyring.create(tmp_path / "keyring", keys.new_dek())


def test_spool_round_trip_torn_tail_and_liveness(tmp_path: Path, ring: keys.Keyring) -> None:
    writer = SpoolWriter(tmp_path / "spool", ring)
    writer.write_info({"call_id": "call-id-plaintext-check", "name": "Jan Jansen"})
    writer.add_audio(0, Codec.PCMU, 0, b"\xff" * 160)
    writer.add_audio(1, Codec.PCMA, 80, b"\xd5" * 160)
    writer.flush()
    assert is_live(writer.path)
    raw = writer.path.read_bytes()
    assert b"Jan Jansen" not in raw and b"call-id-plaintext-check" not in raw
    writer.release()
    assert not is_live(writer.path)
    # A crash mid-write leaves a torn final record: everything before it is kept.
    writer.path.write_bytes(writer.path.read_bytes() + b"\x00\x00\x10\x00partial")
    contents = read_spool(writer.path, ring)
    assert contents.info["name"] == "Jan Jansen" and contents.torn_tail and not contents.complete
    assert len(contents.audio[0]) == 320 and len(contents.audio[1]) == 480
    assert list_spools(tmp_path / "spool") == [writer.path]


def test_spool_records_cannot_be_reordered(tmp_path: Path, ring: keys.Keyring) -> None:
    writer = SpoolWriter(tmp_path / "spool", ring)
    writer.write_info({"a": 1})
    writer.write_info({"a": 2})
    writer.finish({"status": "ok"})
    data = writer.path.read_bytes()
    hlen = int.from_bytes(data[8:12], "big")
    body = data[12 + hlen :]
    first_len = int.from_bytes(body[:4], "big")
    rec1, rest = body[: 4 + first_len], body[4 + first_len :]
    second_len = int.from_bytes(rest[:4], "big")
    rec2, tail = rest[: 4 + second_len], rest[4 + second_len :]
    writer.path.write_bytes(data[: 12 + hlen] + rec2 + rec1 + tail)
    contents = read_spool(writer.path, ring)
    assert contents.records == 0 and contents.torn_tail  # the swap is detected at once


def test_recovery_never_sees_a_spool_before_its_header_is_written(
    tmp_path: Path, ring: keys.Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN recovery listing the spool directory at the moment a new call's spool is
    # being created (the server retries spools while other calls start)
    from ingest.sip import spool as spool_module

    real_write = spool_module.os.write
    seen: list[list[Path]] = []

    def write_while_recovery_looks(fd: int, data: bytes) -> int:
        if not seen:
            seen.append(list_spools(tmp_path))
        return real_write(fd, data)

    monkeypatch.setattr(spool_module.os, "write", write_while_recovery_looks)
    writer = SpoolWriter(tmp_path, ring)
    # THEN the spool without its header was not listed (it would have been moved aside
    # as unreadable under the live call), and once created it is listed and live
    assert seen == [[]]
    assert list_spools(tmp_path) == [writer.path] and is_live(writer.path)
    writer.discard()
