"""SRTP keyed by SDES (RFC 4568 ``a=crypto``): which offers we take, and decryption by libsrtp.

A recorded stream offered as ``RTP/SAVP`` carries its master key and salt in
the SDP, so the key is only as secret as the signalling: SDES is accepted over
SIP over TLS only, and an offer that carries it over UDP or TCP is refused
``488`` (:func:`offer_refusal`), never half-accepted. With
``SipConfig.require_srtp`` plain ``RTP/AVP`` is refused the same way.

Of the offered ``a=crypto`` lines we take the first whose suite
:data:`SUITES` lists and that uses no MKI or session parameters (libsrtp as
bound here has neither); the answer carries the same tag and suite with a key
of our own (RFC 4568 section 6.1: one per direction; we never send, but the
answer must have one).

Each stream gets an :class:`SrtpReceiver`: libsrtp authenticates every packet
and keeps the replay window, and a packet that fails either is dropped and
counted (:class:`SrtpFailure`): a forged or replayed packet never reaches the
timeline, so it is never recorded as audio. What passes is plain RTP and is
recorded exactly as RTP is.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import pylibsrtp

from ingest.sip.sdp import Media, SessionDescription

__all__ = [
    "SUITES",
    "SdesKey",
    "SrtpFailure",
    "SrtpReceiver",
    "answer_crypto",
    "choose_crypto",
    "offer_refusal",
]


@dataclass(frozen=True, slots=True)
class _Suite:
    profile: int
    #: Master key + master salt, in bytes (what ``inline:`` carries, base64).
    key_bytes: int


#: The SDES crypto suites we decrypt, by their RFC 4568 / RFC 7714 names.
SUITES: Final = {
    "AES_CM_128_HMAC_SHA1_80": _Suite(pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
    "AES_CM_128_HMAC_SHA1_32": _Suite(pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32, 30),
    "AEAD_AES_128_GCM": _Suite(pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
    "AEAD_AES_256_GCM": _Suite(pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 44),
}
SECURE_PROFILES: Final = frozenset({"RTP/SAVP", "RTP/SAVPF"})


@dataclass(frozen=True, slots=True)
class SdesKey:
    """One accepted ``a=crypto`` line: its tag, suite and the key + salt it carries."""

    tag: str
    suite: str
    key: bytes = b""

    def __repr__(self) -> str:  # never the key, in a log or a traceback
        return f"SdesKey(tag={self.tag!r}, suite={self.suite!r})"


def _parse_crypto(value: str) -> SdesKey | None:
    """``1 AES_CM_128_HMAC_SHA1_80 inline:KEY[|lifetime]`` -> the key; None if we cannot use it."""
    fields = value.split()
    if len(fields) != 3:  # session parameters (UNENCRYPTED_SRTP, KDR, ...): not supported
        return None
    tag, suite_name, key_params = fields
    suite = SUITES.get(suite_name.upper())
    if not tag.isdigit() or suite is None or not key_params.startswith("inline:"):
        return None
    if ";" in key_params:
        return None  # several master keys: only one is supported
    inline, *extra = key_params[len("inline:"):].split("|")
    if any(":" in part for part in extra):
        return None  # an MKI
    try:
        key = base64.b64decode(inline, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(key) != suite.key_bytes:
        return None
    return SdesKey(tag, suite_name.upper(), key)


def choose_crypto(media: Media) -> SdesKey | None:
    """The first offered ``a=crypto`` of ``media`` we can decrypt; None if there is none."""
    for name, value in media.attributes:
        if name == "crypto":
            key = _parse_crypto(value)
            if key is not None:
                return key
    return None


def answer_crypto(offered: SdesKey) -> str:
    """Our ``a=crypto`` value for the answer: the offer's tag and suite, a fresh key."""
    key = secrets.token_bytes(SUITES[offered.suite].key_bytes)
    return f"{offered.tag} {offered.suite} inline:{base64.b64encode(key).decode()}"


def offer_refusal(
    sdp: SessionDescription, *, over_tls: bool, require_srtp: bool
) -> str | None:
    """Why an offer's recordable audio must be refused ``488`` (the reason phrase), or None."""
    audio = [m for m in sdp.media if m.recordable]
    secure = [m for m in audio if m.proto.upper() in SECURE_PROFILES]
    if secure and not over_tls:
        return "Not Acceptable Here (SRTP keys only over SIP over TLS)"
    if any(choose_crypto(m) is None for m in secure):
        return "Not Acceptable Here (no supported SDES crypto suite)"
    if require_srtp and len(secure) < len(audio):
        return "Not Acceptable Here (SRTP required)"
    return None


class SrtpFailure(StrEnum):
    """Why a packet was dropped before it reached the timeline."""

    #: Already received, or older than the replay window.
    REPLAY = "replay"
    #: The authentication tag does not match (forged, tampered, wrong key) or not SRTP.
    AUTHENTICATION = "authentication"


class SrtpReceiver:
    """Decrypts one recorded stream's SRTP (any SSRC) with libsrtp."""

    __slots__ = ("_session", "key")

    def __init__(self, key: SdesKey) -> None:
        self.key = key
        policy = pylibsrtp.Policy(
            key=key.key,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
            srtp_profile=SUITES[key.suite].profile,
        )
        self._session = pylibsrtp.Session(policy)

    def unprotect(self, packet: bytes) -> bytes | SrtpFailure:
        """The plain RTP packet, or why it was refused."""
        try:
            return bytes(self._session.unprotect(packet))
        except pylibsrtp.Error as exc:
            if str(exc).startswith("replay"):
                return SrtpFailure.REPLAY
            return SrtpFailure.AUTHENTICATION
