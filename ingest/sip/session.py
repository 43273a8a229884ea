"""One recording session (a SIP dialog with its media and spool) and its state machine.

A session moves through :class:`CallState` only along these arrows
(:data:`TRANSITIONS`)::

    PENDING   -> CONFIRMED   the INVITE is answered 200
    PENDING   -> ENDING      BYE before the answer
    CONFIRMED -> ENDING      BYE; no RTP, session timer or maximum duration (truncated)
    ENDING    -> DONE        archived, or its sealed spool kept for a retry
    PENDING   -> DONE        CANCEL, no RTP port, a failure while answering
    CONFIRMED -> DONE        a failure while answering

``PENDING`` and ``CONFIRMED`` are *live*: they accept RTP and in-dialog
requests. ``ENDING`` has stopped its media and is being archived; ``DONE`` is
forgotten. Moving anywhere else raises :class:`InvalidTransition` (a bug, not
bad input); :meth:`CallSession.close` may be repeated.

The rest of this module is what a session knows about itself: the SDP answer
it gave, the headers of its ``200``, the call info written to its spool, its
RTP, and the BYE it sends when the server ends it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from ingest.errors import IngestError
from ingest.sip.config import SipConfig
from ingest.sip.media import MediaStream, close_stream
from ingest.sip.message import (
    SipMessage,
    SipParseError,
    body_parts,
    make_response,
    new_branch,
    parse_name_addr,
    split_commas,
)
from ingest.sip.metadata import MetadataError, RecordingMetadata, parse_metadata
from ingest.sip.rtp import parse_rtp
from ingest.sip.sdp import (
    AnswerStream,
    SdpError,
    SessionDescription,
    build_answer,
    new_session_id,
    parse_sdp,
)
from ingest.sip.spool import SpoolWriter
from ingest.sip.srtp import SrtpFailure, offer_refusal
from ingest.sip.transport import Peer, Reply, Transport

__all__ = [
    "ACCEPT",
    "ALLOW",
    "METADATA_TYPE",
    "NO_AUDIO_REASON",
    "CallSession",
    "CallState",
    "EndStatus",
    "InvalidTransition",
    "RtpOutcome",
    "negotiate_session_expires",
    "parse_offer",
    "refuse_offer",
]

log = logging.getLogger("commarchive.sip")

ALLOW: Final = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO"
ACCEPT: Final = "application/sdp, application/rs-metadata+xml, multipart/mixed"
#: Why a session that never received RTP was ended (it is not archived).
NO_AUDIO_REASON: Final = "no RTP since the call started"
METADATA_TYPE: Final = "application/rs-metadata+xml"


class CallState(StrEnum):
    #: INVITE taken, not answered yet (a CANCEL still ends it).
    PENDING = "pending"
    #: Answered 200: recording.
    CONFIRMED = "confirmed"
    #: BYE or a timeout: media stopped, the spool is being archived.
    ENDING = "ending"
    #: Archived, dropped or cancelled: the server has forgotten it.
    DONE = "done"

    @property
    def live(self) -> bool:
        """Takes RTP and in-dialog requests."""
        return self in (CallState.PENDING, CallState.CONFIRMED)


TRANSITIONS: Final[Mapping[CallState, frozenset[CallState]]] = {
    CallState.PENDING: frozenset({CallState.CONFIRMED, CallState.ENDING, CallState.DONE}),
    CallState.CONFIRMED: frozenset({CallState.ENDING, CallState.DONE}),
    CallState.ENDING: frozenset({CallState.DONE}),
    CallState.DONE: frozenset(),
}


class InvalidTransition(IngestError, RuntimeError):
    """A move the state machine does not have: a bug in the server, never bad input."""

    def __init__(self, call_id: str, current: CallState, wanted: CallState) -> None:
        self.call_id = call_id
        self.current = current
        self.wanted = wanted
        super().__init__(f"call {call_id}: no transition {current} -> {wanted}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.call_id, self.current, self.wanted))


class EndStatus(StrEnum):
    """How a session ended, as written in its spool's end record."""

    #: BYE from the SRC: the recording is complete.
    OK = "ok"
    #: Ended by us (no RTP, session timer, maximum duration): kept, marked truncated.
    TRUNCATED = "truncated"


class RtpOutcome(StrEnum):
    """What became of one datagram on a stream (the server counts these)."""

    #: Not RTP, or the stream or call no longer records.
    DROPPED = "dropped"
    #: RTP, but not audio to keep (event, comfort noise, duplicate).
    SKIPPED = "skipped"
    STORED = "stored"
    #: Audio, but the spool could not take it.
    LOST = "lost"


@dataclass(slots=True)
class CallSession:
    call_id: str
    remote_tag: str
    local_tag: str
    invite: SipMessage
    reply: Reply
    transport: Transport
    remote_addr: Peer
    spool: SpoolWriter
    metadata: RecordingMetadata
    metadata_xml: str | None
    state: CallState = CallState.PENDING
    streams: list[MediaStream] = field(default_factory=list)
    sdp_session_id: int = field(default_factory=new_session_id)
    sdp_version: int = 0
    last_answer: bytes = b""
    ok_response: bytes | None = None
    ok_acked: bool = True
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    created_mono: float = field(default_factory=time.monotonic)
    media_started_at: datetime | None = None
    first_rtp: float | None = None
    last_activity: float = field(default_factory=time.monotonic)
    session_expires_s: int | None = None
    session_deadline: float | None = None
    local_cseq: int = 1
    #: The INVITE's headers that language rules read ({lower-case name: value}).
    language_headers: dict[str, str] = field(default_factory=dict)

    # -- state machine ---------------------------------------------------------------

    def _move(self, wanted: CallState) -> None:
        if wanted not in TRANSITIONS[self.state]:
            raise InvalidTransition(self.call_id, self.state, wanted)
        self.state = wanted

    def confirm(self) -> None:
        """The INVITE was answered 200: the session records."""
        self._move(CallState.CONFIRMED)
        self.last_activity = time.monotonic()
        if self.session_expires_s:
            self.session_deadline = time.monotonic() + self.session_expires_s

    def start_ending(self) -> bool:
        """Begin ending a live session; False if it is already ending or done."""
        if not self.state.live:
            return False
        self._move(CallState.ENDING)
        return True

    def close(self) -> None:
        """The session is over (archived, cancelled or dropped); repeating is harmless."""
        if self.state is not CallState.DONE:
            self._move(CallState.DONE)

    @property
    def cancellable(self) -> bool:
        """Not answered yet: a CANCEL ends it (RFC 3261 9.2)."""
        return self.state is CallState.PENDING

    def awaits_ack(self, raw: bytes) -> bool:
        """``raw`` is still our latest 200 and neither ACKed nor overtaken by the end."""
        return not self.ok_acked and self.ok_response is raw and self.state is CallState.CONFIRMED

    # -- media -----------------------------------------------------------------------

    def stop_media(self) -> None:
        for stream in self.streams:
            close_stream(stream)

    @property
    def on_hold(self) -> bool:
        """No stream is expected to carry RTP (all inactive or not sending)."""
        return not any(st.active and st.sending for st in self.streams)

    def end_reason(self, now: float, config: SipConfig) -> str | None:
        """Why the server should end this recording session now, or None to let it run."""
        timeout_s = config.rtp_inactivity_timeout_s
        if self.first_rtp is None:
            # Counted from the start, on hold or not, re-INVITEs or not: a call that
            # never sends audio does not hold a slot past the inactivity timeout.
            if now - self.created_mono > timeout_s:
                return NO_AUDIO_REASON
        else:
            if self.on_hold:
                self.last_activity = now  # no RTP is expected while held
            if now - self.last_activity > timeout_s:
                return "no RTP before the inactivity timeout"
        if self.session_deadline is not None and now > self.session_deadline:
            return "session timer expired"
        if now - self.created_mono > config.max_call_duration_s:
            return "maximum call duration reached"
        return None

    def receive_rtp(self, stream: MediaStream, data: bytes) -> RtpOutcome | SrtpFailure:
        """Place one datagram from ``stream`` on the timeline and seal it into the spool.

        SRTP is decrypted first; a packet that fails libsrtp's authentication or
        replay check goes no further (the reason is returned, to be counted).
        """
        if stream.srtp is not None and stream.active and self.state.live:
            plain = stream.srtp.unprotect(data)
            if isinstance(plain, SrtpFailure):
                return plain
            data = plain
        packet = parse_rtp(data)
        if packet is None or not stream.active or not self.state.live:
            return RtpOutcome.DROPPED
        now = time.monotonic()
        if self.first_rtp is None:
            self.first_rtp = now
            self.media_started_at = datetime.now(UTC)
            self.write_info()
        self.last_activity = now
        placed = stream.timeline.place(packet, now - self.first_rtp)
        if placed is None:
            return RtpOutcome.SKIPPED
        offset, codec = placed
        try:
            self.spool.add_audio(stream.index, codec, offset, packet.payload)
        except OSError as exc:
            log.error("spool write failed for %s: %s", self.spool.spool_id, type(exc).__name__)
            return RtpOutcome.LOST
        return RtpOutcome.STORED

    def rtp_stats(self) -> dict[str, dict[str, int]]:
        return {
            s.label: {
                "packets": s.timeline.stats.packets,
                "duplicates": s.timeline.stats.duplicates,
                "events": s.timeline.stats.events,
                "ssrc_changes": s.timeline.stats.ssrc_changes,
            }
            for s in self.streams
        }

    # -- what it says ----------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The call info kept in the spool (latest wins): enough to build the item."""
        return {
            "call_id": self.call_id,
            "started_at": self.created_at.isoformat(),
            "media_started_at": self.media_started_at.isoformat()
            if self.media_started_at
            else None,
            "transport": self.transport.value,
            "metadata": self.metadata.to_json(),
            "metadata_xml": self.metadata_xml,
            "sip_headers": self.language_headers,
            "streams": [
                {
                    "index": s.index,
                    "label": s.label,
                    "codecs": sorted({c.value for c in s.payloads.values()}),
                    #: How the stream was protected on the wire (None: plain RTP).
                    "srtp": s.srtp.key.suite if s.srtp is not None else None,
                }
                for s in self.streams
            ],
        }

    def write_info(self) -> None:
        self.spool.write_info(self.info())

    def new_answer(
        self, sdp: SessionDescription, answers: list[AnswerStream], *, address: str
    ) -> bytes:
        """The next version of our SDP answer (kept for offers that carry no SDP)."""
        self.sdp_version += 1
        self.last_answer = build_answer(
            sdp,
            answers,
            address=address,
            session_id=self.sdp_session_id,
            version=self.sdp_version,
        )
        return self.last_answer

    def ok_headers(self, *, contact_host: str, port: int | None) -> list[tuple[str, str]]:
        """Headers of a 200 in this dialog (Contact marks us as an SRS, RFC 7866)."""
        transport = f";transport={self.transport.value}" if self.transport.stream else ""
        headers = [
            ("Contact", f"<sip:srs@{contact_host}:{port}{transport}>;+sip.srs"),
            ("Allow", ALLOW),
            ("Content-Type", "application/sdp"),
        ]
        if self.session_expires_s:
            headers.append(("Session-Expires", f"{self.session_expires_s};refresher=uac"))
            headers.append(("Require", "timer"))
            headers.append(("Supported", "timer"))
        return headers

    def bye_request(self, *, contact_host: str, port: int | None) -> SipMessage:
        """Our BYE to the SRC (we end the session: inactivity, session timer, duration)."""
        contact = self.invite.get("contact")
        try:
            target = parse_name_addr(split_commas(contact)[0]).uri if contact else None
        except SipParseError:
            target = None
        target = target or f"sip:{self.remote_addr[0]}:{self.remote_addr[1]}"
        self.local_cseq += 1
        proto = self.transport.value.upper()
        bye = SipMessage(method="BYE", uri=target)
        bye.add("Via", f"SIP/2.0/{proto} {contact_host}:{port};branch={new_branch()};rport")
        bye.add("Max-Forwards", "70")
        to_value = self.invite.get("from") or ""
        from_value = self.invite.get("to") or ""
        if "tag=" not in from_value:
            from_value = f"{from_value};tag={self.local_tag}"
        bye.add("From", from_value)
        bye.add("To", to_value)
        bye.add("Call-ID", self.call_id)
        bye.add("CSeq", f"{self.local_cseq} BYE")
        return bye


def parse_offer(
    msg: SipMessage,
) -> tuple[SessionDescription | None, RecordingMetadata | None, str | None]:
    """The SDP offer and RFC 7865 metadata of a request (either may be absent).

    Malformed SDP or metadata raises SipParseError with the 400 reason phrase.
    """
    sdp: SessionDescription | None = None
    meta: RecordingMetadata | None = None
    xml: str | None = None
    for part in body_parts(msg):
        if part.content_type == "application/sdp" and sdp is None:
            try:
                sdp = parse_sdp(part.body)
            except SdpError as exc:
                raise SipParseError(f"Malformed SDP: {exc}", partial=msg) from None
        elif part.content_type == METADATA_TYPE and meta is None:
            try:
                meta = parse_metadata(part.body)
            except MetadataError as exc:
                raise SipParseError(f"Malformed Metadata: {exc}", partial=msg) from None
            xml = part.body.decode("utf-8", "replace")
    return sdp, meta, xml


def refuse_offer(
    msg: SipMessage, sdp: SessionDescription, transport: Transport, config: SipConfig,
    *, initial: bool,
) -> SipMessage | None:
    """The ``488`` for an offer we will not record, or None to go on.

    An initial offer needs a G.711 stream; any offer is refused when it sends
    SDES keys over a transport other than TLS, offers SRTP we cannot decrypt, or
    offers plain RTP while ``config.require_srtp`` (:func:`ingest.sip.srtp.offer_refusal`).
    """
    if initial and not any(m.recordable for m in sdp.media):
        return make_response(
            msg, 488, "Not Acceptable Here (no G.711 audio stream)",
            headers=[("Warning", '304 commarchive "PCMU or PCMA at 8 kHz required"')],
        )
    reason = offer_refusal(
        sdp, over_tls=transport is Transport.TLS, require_srtp=config.require_srtp
    )
    return make_response(msg, 488, reason) if reason is not None else None


def negotiate_session_expires(msg: SipMessage, config: SipConfig) -> int | SipMessage | None:
    """The session interval (RFC 4028) for a request, None for none, or the error answer."""
    raw = msg.get("session-expires")
    supported = {t.strip().lower() for v in msg.get_all("supported") for t in v.split(",")}
    if raw is None:
        return config.session_expires_s if "timer" in supported else None
    value = raw.split(";")[0].strip()
    if not value.isdigit():
        return make_response(msg, 400, "Bad Session-Expires")
    seconds = int(value)
    if seconds < config.min_session_expires_s:
        return make_response(
            msg,
            422,
            "Session Interval Too Small",
            headers=[("Min-SE", str(config.min_session_expires_s))],
        )
    return min(seconds, max(config.session_expires_s, config.min_session_expires_s))
