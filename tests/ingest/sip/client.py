"""A small, independent SIPREC client for tests and the benchmark (blocking sockets).

It builds its messages by hand (not with ``ingest.sip``), so a bug in our
parser cannot hide behind the same bug in the client.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import ssl
import struct
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pylibsrtp

PCAP_DIRS = (Path("/usr/share/sip-tester"), Path("/usr/share/doc/sip-tester"))


def find_pcap(name: str) -> Path:
    for directory in PCAP_DIRS:
        for candidate in (directory / name, directory / "pcap" / name):
            if candidate.exists():
                return candidate
    raise FileNotFoundError(f"{name} (sip-tester's pcap files) not found")


def read_pcap_rtp(path: Path) -> list[tuple[float, bytes]]:
    """(relative time, RTP packet) for every UDP packet of a libpcap capture."""
    data = path.read_bytes()
    magic, _, _, _, _, _, link = struct.unpack_from("<IHHiIII", data)
    assert magic == 0xA1B2C3D4, "only little-endian microsecond pcaps"
    pos, out, first = 24, [], None
    while pos + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        pos += 16
        pkt = data[pos : pos + incl]
        pos += incl
        off = {1: 14, 113: 16}.get(link, 0)
        ihl = (pkt[off] & 0x0F) * 4
        udp = pkt[off + ihl :]
        t = sec + usec / 1e6
        first = t if first is None else first
        out.append((t - first, udp[8:]))
    return out


def rtp(pt: int, seq: int, ts: int, ssrc: int, payload: bytes) -> bytes:
    return struct.pack(">BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def tone_packets(
    seconds: float, *, pt: int = 0, ssrc: int = 0x1234, code: int = 0x55, ts0: int = 1000
) -> list[tuple[float, bytes]]:
    """20 ms packets of a constant G.711 code (easy to recognise after decoding)."""
    count = round(seconds / 0.02)
    return [(i * 0.02, rtp(pt, i, ts0 + i * 160, ssrc, bytes([code]) * 160)) for i in range(count)]


@dataclass
class Party:
    participant_id: str
    aor: str
    name: str
    stream_id: str
    label: str


JAN = Party("p1", "sip:+31201234567@carrier.example.net", "Jan Jansen", "s1", "1")
AGENT = Party("p2", "sip:agent7@pbx.example.com", "Agent Seven", "s2", "2")
JAN_AND_AGENT = [JAN, AGENT]


def metadata_xml(session_id: str, parties: Sequence[Party], *, group_id: str = "grp-1") -> str:
    ns = "urn:ietf:params:xml:ns:recording:1"
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<recording xmlns="{ns}">',
        "<datamode>complete</datamode>",
        f'<group group_id="{group_id}">'
        "<associate-time>2026-01-01T10:00:00Z</associate-time></group>",
        f'<session session_id="{session_id}"><group-ref>{group_id}</group-ref></session>',
    ]
    for p in parties:
        lines.append(
            f'<participant participant_id="{p.participant_id}">'
            f'<nameID aor="{p.aor}"><name xml:lang="en">{p.name}</name></nameID></participant>'
        )
    for p in parties:
        lines.append(
            f'<stream stream_id="{p.stream_id}" session_id="{session_id}">'
            f"<label>{p.label}</label></stream>"
        )
    for p in parties:
        others = [o.stream_id for o in parties if o is not p]
        recv = "".join(f"<recv>{s}</recv>" for s in others)
        lines.append(
            f'<participantstreamassoc participant_id="{p.participant_id}">'
            f"<send>{p.stream_id}</send>{recv}</participantstreamassoc>"
        )
    lines.append("</recording>")
    return "\n".join(lines)


#: SDES suite -> (libsrtp profile, bytes of master key + salt).
SRTP_SUITES = {
    "AES_CM_128_HMAC_SHA1_80": (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
    "AEAD_AES_128_GCM": (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
}


@dataclass(frozen=True)
class SrtpKey:
    """A sender's SDES key: what goes into ``a=crypto`` and what protects its packets."""

    suite: str = "AES_CM_128_HMAC_SHA1_80"
    key: bytes = field(default_factory=lambda: os.urandom(30))
    tag: int = 1

    @classmethod
    def new(cls, suite: str = "AES_CM_128_HMAC_SHA1_80") -> SrtpKey:
        return cls(suite, os.urandom(SRTP_SUITES[suite][1]))

    def crypto(self) -> str:
        return f"{self.tag} {self.suite} inline:{base64.b64encode(self.key).decode()}"

    def protect(self, packets: Sequence[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
        """The packets as SRTP, with a fresh sender session (its rollover counter at 0)."""
        policy = pylibsrtp.Policy(key=self.key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                                  srtp_profile=SRTP_SUITES[self.suite][0])
        session = pylibsrtp.Session(policy)
        return [(t, session.protect(p)) for t, p in packets]


def sdp_offer(
    labels: Iterable[str],
    *,
    base_port: int = 40000,
    pts: str = "8 0 101",
    ports: Sequence[int] | None = None,
    media_host: str = "127.0.0.1",
    direction: str = "a=sendonly",
    crypto: Sequence[str] | None = None,
) -> str:
    """An offer with one stream per label; ``crypto``: one ``a=crypto`` per stream (RTP/SAVP)."""
    lines = ["v=0", "o=src 1 1 IN IP4 127.0.0.1", "s=-", f"c=IN IP4 {media_host}", "t=0 0"]
    for i, label in enumerate(labels):
        port = ports[i] if ports is not None else base_port + 2 * i
        proto = "RTP/SAVP" if crypto is not None else "RTP/AVP"
        lines += [
            f"m=audio {port} {proto} {pts}",
            *([f"a=crypto:{crypto[i]}"] if crypto is not None else []),
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            f"a=label:{label}",
            direction,
        ]
    return "\r\n".join(lines) + "\r\n"


def multipart(sdp: str, xml: str | None, boundary: str = "foobar") -> tuple[str, str]:
    if xml is None:
        return "application/sdp", sdp
    body = (
        f"--{boundary}\r\nContent-Type: application/sdp\r\n\r\n{sdp}\r\n"
        f"--{boundary}\r\nContent-Type: application/rs-metadata+xml\r\n"
        f"Content-Disposition: recording-session\r\n\r\n{xml}\r\n--{boundary}--\r\n"
    )
    return f"multipart/mixed;boundary={boundary}", body


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: str
    raw: bytes

    def ports(self) -> list[int]:
        return [int(p) for p in re.findall(r"^m=audio (\d+)", self.body, re.M)]


def parse_response(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    _, status, reason = ([*lines[0].split(" ", 2), ""])[:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    code = int(status) if status.isdigit() else 0  # 0: a request (e.g. the server's BYE)
    return Response(code, reason, headers, body.decode(errors="replace"), raw)


@dataclass
class Dialog:
    call_id: str
    from_tag: str
    to_tag: str = ""
    cseq: int = 1
    branch: str = ""
    ports: list[int] = field(default_factory=list)


class SiprecClient:
    """Speaks SIP to one server over UDP, TCP or TLS (``tls=`` a client context) from 127.0.0.1.

    Over TLS the handshake happens in the constructor, so a refused client
    certificate shows there (TLS 1.2) or on the first read (TLS 1.3).
    """

    def __init__(
        self,
        server_port: int,
        *,
        tcp: bool = False,
        tls: ssl.SSLContext | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.server = ("127.0.0.1", server_port)
        self.tcp = tcp or tls is not None
        self.proto = "TLS" if tls is not None else "TCP" if tcp else "UDP"
        self.sock: socket.socket
        if self.tcp:
            self.sock = socket.create_connection(self.server, timeout=timeout)
            if tls is not None:
                self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
            self._buf = b""
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.sock.settimeout(timeout)
        self.local_port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        if self.tcp:
            self.sock.sendall(data)
        else:
            self.sock.sendto(data, self.server)

    def recv(self) -> Response:
        if not self.tcp:
            data, _ = self.sock.recvfrom(65535)
            return parse_response(data)
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                m = re.search(rb"\r\nContent-Length:\s*(\d+)", self._buf[:end], re.I)
                length = int(m.group(1)) if m else 0
                if len(self._buf) >= end + 4 + length:
                    frame = self._buf[: end + 4 + length]
                    self._buf = self._buf[end + 4 + length :]
                    return parse_response(frame)
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionError("closed")
            self._buf += chunk

    def recv_final(self) -> Response:
        while True:
            resp = self.recv()
            if resp.status >= 200:
                return resp

    def request(
        self,
        method: str,
        dialog: Dialog,
        *,
        content_type: str | None = None,
        body: str = "",
        extra: Sequence[str] = (),
        cseq: int | None = None,
        branch: str | None = None,
        send: bool = True,
    ) -> bytes:
        proto = self.proto
        branch = branch or "z9hG4bK" + uuid.uuid4().hex[:16]
        if method not in ("ACK", "CANCEL"):
            dialog.branch = branch
        to = "<sip:srs@127.0.0.1>" + (f";tag={dialog.to_tag}" if dialog.to_tag else "")
        lines = [
            f"{method} sip:srs@127.0.0.1:{self.server[1]} SIP/2.0",
            f"Via: SIP/2.0/{proto} 127.0.0.1:{self.local_port};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:src@127.0.0.1>;tag={dialog.from_tag}",
            f"To: {to}",
            f"Call-ID: {dialog.call_id}",
            f"CSeq: {cseq if cseq is not None else dialog.cseq} {method}",
            f"Contact: <sip:src@127.0.0.1:{self.local_port}>;+sip.src",
            *extra,
        ]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        data = body.encode()
        lines.append(f"Content-Length: {len(data)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
        if send:
            self.send_raw(raw)
        return raw

    def invite(
        self,
        labels: Sequence[str],
        xml: str | None,
        *,
        call_id: str | None = None,
        extra: Sequence[str] = ("Require: siprec", "Supported: timer"),
        pts: str = "8 0 101",
        media_host: str = "127.0.0.1",
        direction: str = "a=sendonly",
        crypto: Sequence[str] | None = None,
    ) -> tuple[Dialog, Response]:
        dialog = Dialog(call_id or uuid.uuid4().hex, uuid.uuid4().hex[:8])
        offer = sdp_offer(labels, pts=pts, media_host=media_host, direction=direction,
                          crypto=crypto)
        ctype, body = multipart(offer, xml)
        self.request("INVITE", dialog, content_type=ctype, body=body, extra=extra)
        resp = self.recv_final()
        if resp.status == 200:
            m = re.search(r"tag=([^;>\s]+)", resp.headers["to"])
            dialog.to_tag = m.group(1) if m else ""
            dialog.ports = resp.ports()
            self.request("ACK", dialog, branch="z9hG4bK" + uuid.uuid4().hex[:16])
        return dialog, resp

    def bye(self, dialog: Dialog) -> Response:
        dialog.cseq += 1
        self.request("BYE", dialog)
        return self.recv_final()


def play(
    port: int, packets: Sequence[tuple[float, bytes]], *, speed: float = 1.0,
    source: str = "127.0.0.1",
) -> None:
    """Send RTP packets to 127.0.0.1:port at their capture times, from ``source``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    start = time.monotonic()
    try:
        for t, data in packets:
            delay = start + t / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sock.sendto(data, ("127.0.0.1", port))
    finally:
        sock.close()


def play_all(streams: Sequence[tuple[int, Sequence[tuple[float, bytes]]]]) -> None:
    threads = [threading.Thread(target=play, args=(p, pk)) for p, pk in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
