"""SDP (RFC 4566) for a recording server: read the offer, answer recvonly per stream.

Only what an SRS needs: media lines with their port, payload types, rtpmap,
direction and SIPREC ``a=label`` (RFC 7866 matches streams to metadata by label).
``RTP/SAVP`` streams are recordable too; their ``a=crypto`` lines stay in
``Media.attributes`` for :mod:`ingest.sip.srtp`, which decides whether they are taken.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from ingest.errors import IngestError


class SdpError(IngestError, ValueError):
    """An SDP body that cannot be read as an offer."""


class Codec(StrEnum):
    PCMU = "PCMU"
    PCMA = "PCMA"
    TELEPHONE_EVENT = "telephone-event"
    COMFORT_NOISE = "CN"


_STATIC: Final = {0: (Codec.PCMU, 8000), 8: (Codec.PCMA, 8000), 13: (Codec.COMFORT_NOISE, 8000)}
_DIRECTIONS: Final = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})
#: Profiles of an audio stream we can record (SAVP: SRTP, :mod:`ingest.sip.srtp`).
RECORDABLE_PROFILES: Final = frozenset({"RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF"})
MAX_MEDIA: Final = 16


@dataclass(slots=True)
class Media:
    kind: str
    port: int
    proto: str
    formats: list[str]
    connection: str | None = None
    label: str | None = None
    direction: str = "sendrecv"
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    attributes: list[tuple[str, str]] = field(default_factory=list)

    def codec_of(self, pt: int) -> tuple[str, int] | None:
        if pt in self.rtpmap:
            return self.rtpmap[pt]
        static = _STATIC.get(pt)
        return (str(static[0]), static[1]) if static else None

    def accepted_payloads(self) -> dict[int, Codec]:
        """The payload types we can record (G.711 at 8 kHz) plus DTMF events to ignore."""
        out: dict[int, Codec] = {}
        for fmt in self.formats:
            if not fmt.isdigit():
                continue
            pt = int(fmt)
            info = self.codec_of(pt)
            if info is None:
                continue
            name, rate = info
            upper = name.upper()
            if rate != 8000:
                continue
            if upper == "PCMU":
                out[pt] = Codec.PCMU
            elif upper == "PCMA":
                out[pt] = Codec.PCMA
            elif upper == "TELEPHONE-EVENT":
                out[pt] = Codec.TELEPHONE_EVENT
            elif upper == "CN":
                out[pt] = Codec.COMFORT_NOISE
        return out

    @property
    def recordable(self) -> bool:
        return (
            self.kind == "audio"
            and self.port != 0
            and self.proto.upper() in RECORDABLE_PROFILES
            and any(c in (Codec.PCMU, Codec.PCMA) for c in self.accepted_payloads().values())
        )


@dataclass(slots=True)
class SessionDescription:
    origin: str
    connection: str | None
    media: list[Media]


def parse_sdp(data: bytes) -> SessionDescription:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("SDP is not UTF-8") from None
    origin = ""
    connection: str | None = None
    media: list[Media] = []
    seen_version = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise SdpError("bad SDP line")
        kind, value = line[0], line[2:]
        if kind == "v":
            seen_version = True
        elif kind == "o":
            origin = value
        elif kind == "c":
            parts = value.split()
            if len(parts) != 3 or parts[0] != "IN":
                raise SdpError("bad c= line")
            addr = parts[2].split("/")[0]
            if media:
                media[-1].connection = addr
            else:
                connection = addr
        elif kind == "m":
            parts = value.split()
            if len(parts) < 4 or not parts[1].split("/")[0].isdigit():
                raise SdpError("bad m= line")
            if len(media) >= MAX_MEDIA:
                raise SdpError("too many media streams")
            port = int(parts[1].split("/")[0])
            if port > 65535:
                raise SdpError("bad port")
            media.append(Media(parts[0].lower(), port, parts[2], parts[3:]))
        elif kind == "a" and media:
            name, _, attr_value = value.partition(":")
            current = media[-1]
            current.attributes.append((name, attr_value))
            if name == "label":
                current.label = attr_value.strip()
            elif name in _DIRECTIONS:
                current.direction = name
            elif name == "rtpmap":
                pt_text, _, enc = attr_value.partition(" ")
                enc_name, _, rest = enc.partition("/")
                rate_text = rest.partition("/")[0]
                if pt_text.isdigit() and rate_text.isdigit():
                    current.rtpmap[int(pt_text)] = (enc_name.strip(), int(rate_text))
    if not seen_version:
        raise SdpError("SDP without v= line")
    return SessionDescription(origin, connection, media)


@dataclass(frozen=True, slots=True)
class AnswerStream:
    """Our side of one offered m= line: a port (0 = declined) and the accepted payloads.

    ``crypto``: our ``a=crypto`` value when the stream is SRTP (answered ``RTP/SAVP``).
    """

    port: int
    payloads: dict[int, Codec]
    crypto: str | None = None


def build_answer(
    offer: SessionDescription,
    answers: list[AnswerStream],
    *,
    address: str,
    session_id: int,
    version: int,
) -> bytes:
    """An answer with one m= line per offered line, in order; accepted ones recvonly."""
    if len(answers) != len(offer.media):
        raise ValueError("one answer per offered stream")
    lines = [
        "v=0",
        f"o=commarchive {session_id} {version} IN IP4 {address}",
        "s=commarchive recording",
        f"c=IN IP4 {address}",
        "t=0 0",
    ]
    for media, ans in zip(offer.media, answers, strict=True):
        if ans.port == 0:
            fmt = media.formats[0] if media.formats else "0"
            lines.append(f"m={media.kind} 0 {media.proto} {fmt}")
            continue
        pts = list(ans.payloads)
        proto = "RTP/SAVP" if ans.crypto else "RTP/AVP"
        lines.append(f"m=audio {ans.port} {proto} {' '.join(str(p) for p in pts)}")
        for pt in pts:
            codec = ans.payloads[pt]
            if codec is Codec.TELEPHONE_EVENT:
                lines.append(f"a=rtpmap:{pt} telephone-event/8000")
                lines.append(f"a=fmtp:{pt} 0-16")
            else:
                lines.append(f"a=rtpmap:{pt} {codec.value}/8000")
        if ans.crypto:
            lines.append(f"a=crypto:{ans.crypto}")
        if media.label is not None:
            lines.append(f"a=label:{media.label}")
        lines.append("a=recvonly")
    return ("\r\n".join(lines) + "\r\n").encode()


def new_session_id() -> int:
    return int(time.time() * 1000)
