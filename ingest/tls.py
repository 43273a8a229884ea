"""TLS for the ingest listeners and the API: server contexts, client certificates, rotation.

Shared by SIP over TLS (:mod:`ingest.sip.transport`), SMTP and the HTTPS
listener ``commarchive serve`` starts, so every encrypted listener has the same
floor (TLS 1.2), the same error for an unusable file (:class:`TlsConfigError`,
naming the file and the reason) and the same rotation: a
:class:`CertificateWatch` loads a changed certificate and key into the live
context, so new handshakes get the new certificate while open connections go on
(no restart, no downtime); a pair that does not load (half written, key not
matching) keeps the old one in place and is tried again.

Who may connect (mutual TLS): OpenSSL verifies the client's certificate
against ``client_ca`` during the handshake (a client without one, or with one
from another CA, never completes it); a SHA-256 fingerprint allowlist is
checked right after, before a byte of the protocol is read
(:func:`peer_allowed`). Python's ``ssl`` has no verify callback, so the
fingerprints narrow the CA's certificates rather than replace the CA.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ingest.errors import IngestError

__all__ = [
    "CertificateWatch",
    "TlsConfigError",
    "certificate_fingerprint",
    "normalise_fingerprint",
    "peer_allowed",
    "server_context",
]

log = logging.getLogger("commarchive.tls")

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


def server_context(
    cert: Path,
    key: Path,
    *,
    client_ca: Path | None = None,
    client_fingerprints: Iterable[str] = (),
    require_client: bool = True,
) -> ssl.SSLContext:
    """A TLS 1.2+ server context with our certificate.

    With ``client_ca`` it asks for a client certificate issued by that CA: one is
    required when ``require_client``, else optional (the protocol above decides
    what a connection without one may do).
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    load_certificate(context, cert, key)
    fingerprints = list(client_fingerprints)
    for value in fingerprints:
        normalise_fingerprint(value)
    if fingerprints and client_ca is None:
        raise TlsConfigError(
            "client fingerprints",
            reason="need a client CA file too (a self-signed client certificate is its own CA)",
        )
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsConfigError(f"client CA {client_ca}", reason=_why(exc)) from None
        context.verify_mode = ssl.CERT_REQUIRED if require_client else ssl.CERT_OPTIONAL
    return context


def load_certificate(context: ssl.SSLContext, cert: Path, key: Path) -> None:
    """Put ``cert`` and ``key`` into ``context`` (again, for a rotation)."""
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(f"certificate {cert} / key {key}", reason=_why(exc)) from None


class CertificateWatch:
    """Reloads a certificate and key into live contexts when their files change."""

    def __init__(self, cert: Path, key: Path, contexts: Iterable[ssl.SSLContext] = ()) -> None:
        self.cert = cert
        self.key = key
        self.contexts = list(contexts)
        self._loaded = self._signature()
        #: Rotations done (new certificate in every context).
        self.reloads = 0

    def _signature(self) -> tuple[tuple[int, int, int], ...] | None:
        try:
            stats = [Path(path).stat() for path in (self.cert, self.key)]
        except OSError:
            return None
        return tuple((st.st_ino, st.st_mtime_ns, st.st_size) for st in stats)

    def check(self) -> bool:
        """Reload when the files changed since the last load; True when a new pair is in use."""
        signature = self._signature()
        if signature is None or signature == self._loaded:
            return False
        try:
            # A scratch context first: a pair that fails half way through loading
            # would leave a live context with a certificate and no key.
            load_certificate(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), self.cert, self.key)
            for context in self.contexts:
                load_certificate(context, self.cert, self.key)
        except TlsConfigError as exc:
            log.error("new TLS certificate not loaded, the old one stays: %s", exc)
            return False
        self._loaded = signature
        self.reloads += 1
        log.info("TLS certificate %s reloaded", self.cert)
        return True


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
