"""SIP over TLS: the server's TLS context and the client-certificate check of mutual TLS.

SDES (RFC 4568) carries SRTP keys inside the SDP, so whoever reads the
signalling can decrypt the audio: SIP over TLS is what makes SRTP worth
anything, and :mod:`ingest.sip.uas` takes SDES offers only over it.

Who may connect (mutual TLS, when ``SipTlsConfig.mutual``): OpenSSL verifies
the client's certificate against ``client_ca`` during the handshake (a
client without one, or with one from another CA, never completes it); the
SHA-256 fingerprint allowlist is checked right after, before a byte of SIP is
read (:func:`peer_allowed`). Python's ``ssl`` has no verify callback, so the
fingerprints narrow the CA's certificates rather than replace the CA.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterable
from typing import Final

from ingest.errors import IngestError
from ingest.sip.config import SipTlsConfig

__all__ = [
    "TlsConfigError",
    "certificate_fingerprint",
    "normalise_fingerprint",
    "peer_allowed",
    "server_context",
]

_SHA256_HEX_CHARS: Final = 64


class TlsConfigError(IngestError, ValueError):
    """A certificate, key, CA file or fingerprint that cannot be used, and why."""

    def __init__(self, what: str, *, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"TLS {what}: {reason}")

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.what, self.reason))


def _rebuild(what: str, reason: str) -> TlsConfigError:
    return TlsConfigError(what, reason=reason)


def normalise_fingerprint(value: str) -> str:
    """``AB:CD:...`` or ``abcd...`` as 64 lower-case hex digits; anything else is refused."""
    text = value.replace(":", "").replace(" ", "").strip().lower()
    if len(text) != _SHA256_HEX_CHARS or any(c not in "0123456789abcdef" for c in text):
        raise TlsConfigError(
            f"client fingerprint {value!r}", reason="not a SHA-256 fingerprint (64 hex digits)"
        )
    return text


def certificate_fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, as :func:`normalise_fingerprint` gives."""
    return hashlib.sha256(der).hexdigest()


def server_context(config: SipTlsConfig) -> ssl.SSLContext:
    """A TLS 1.2+ server context with our certificate; it requires a client one when mutual."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.cert, config.key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(
            f"certificate {config.cert} / key {config.key}", reason=_why(exc)
        ) from None
    for value in config.client_fingerprints:
        normalise_fingerprint(value)
    if config.client_fingerprints and config.client_ca is None:
        raise TlsConfigError(
            "client fingerprints",
            reason="need a client CA file too (a self-signed client certificate is its own CA)",
        )
    if config.client_ca is not None:
        try:
            context.load_verify_locations(cafile=config.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsConfigError(f"client CA {config.client_ca}", reason=_why(exc)) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_allowed(ssl_object: ssl.SSLObject | ssl.SSLSocket | None, allowed: Iterable[str]) -> bool:
    """Whether a finished handshake's client certificate is on the fingerprint allowlist.

    An empty allowlist allows every client the handshake accepted.
    """
    wanted = {normalise_fingerprint(f) for f in allowed}
    if not wanted:
        return True
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return der is not None and certificate_fingerprint(der) in wanted


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return str(getattr(exc, "reason", None) or exc)
