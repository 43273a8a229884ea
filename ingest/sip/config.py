"""Settings of the SIPREC recording server: where it listens, whom it serves, its limits.

A frozen value handed to :func:`ingest.sip.server.start_sip_server`; the
defaults here are the defaults of ``commarchive serve``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["DEFAULT_SIP_TLS_PORT", "TLS_RELOAD_CHECK_S", "SipConfig", "SipTlsConfig"]

#: The registered port of SIP over TLS (RFC 3261 section 19.1.2).
DEFAULT_SIP_TLS_PORT: Final = 5061
#: How often certificate files are checked for a rotation, by default.
TLS_RELOAD_CHECK_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class SipTlsConfig:
    """SIP over TLS: its own listener, our certificate, and who may connect.

    With ``client_ca`` or ``client_fingerprints`` set the listener is mutual
    TLS: a client must present a certificate that chains to ``client_ca`` and,
    when fingerprints are listed, whose SHA-256 fingerprint is one of them;
    otherwise its connection ends before any SIP is read
    (:mod:`ingest.tls`). Fingerprints alone still need ``client_ca`` (a
    self-signed client certificate is its own CA file), because the handshake
    cannot accept a certificate it has not verified.
    """

    cert: Path
    key: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_SIP_TLS_PORT
    client_ca: Path | None = None
    #: SHA-256 of the client certificates allowed (hex, colons and case ignored).
    client_fingerprints: tuple[str, ...] = ()
    #: A client that has not finished its handshake after this long is cut off.
    handshake_timeout_s: float = 10.0
    #: How often the certificate and key files are checked for a rotation (reloaded live).
    reload_check_s: float = TLS_RELOAD_CHECK_S

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None or bool(self.client_fingerprints)


@dataclass(frozen=True, slots=True)
class SipConfig:
    host: str = "127.0.0.1"
    port: int = 5060
    udp: bool = True
    tcp: bool = True
    #: SIP over TLS on its own port (the SDES keys of SRTP are only taken over it).
    tls: SipTlsConfig | None = None
    #: Refuse plain RTP (488): every recorded stream must be SRTP, so SIP must be TLS.
    require_srtp: bool = False
    #: Address put in Contact and SDP (defaults to ``host``, or 127.0.0.1 for a wildcard).
    advertise: str | None = None
    #: Networks (CIDR) allowed to send SIP; everything else gets 403 and no call.
    allowlist: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    rtp_port_range: tuple[int, int] = (20000, 40000)
    rtp_inactivity_timeout_s: float = 30.0
    max_calls: int = 500
    session_expires_s: int = 1800
    min_session_expires_s: int = 90
    #: Wait this long before answering an INVITE (a window for CANCEL; 0 in production).
    answer_delay_s: float = 0.0
    #: How long BYE waits for the archive before answering 500 (the spool is kept and retried).
    bye_archive_timeout_s: float = 10.0
    archive_retry_interval_s: float = 5.0
    #: A call (even one on hold, with no session timer) is ended, truncated, after this long.
    max_call_duration_s: float = 6 * 3600.0
    #: Receive buffer per RTP socket: rides out bursts and short stalls (capped by rmem_max).
    rtp_socket_buffer_bytes: int = 1024 * 1024
    #: A TCP connection that sends nothing this long is closed, unless a live call uses it.
    tcp_idle_timeout_s: float = 120.0
    #: TCP connections one source address may hold at once (further ones are closed at once).
    max_tcp_connections_per_source: int = 32

    @property
    def contact_host(self) -> str:
        if self.advertise:
            return self.advertise
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
