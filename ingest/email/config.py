"""SMTP ingest configuration: ``SmtpConfig`` and the checks run before listening.

Kept apart from the server so the settings registry (``commarchive.settings``)
can take its defaults from here without importing aiosmtpd; see that module
for how the two relate.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ingest.email.parsed import DEFAULT_LIMITS, MimeLimits
from ingest.errors import SmtpConfigError

DEFAULT_PORT: Final = 2525

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """One SMTP listener; ``commarchive serve`` builds it from ``Settings.smtp``."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    #: Client networks allowed to connect (CIDR); everything else gets 554.
    allowlist: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Refuse mail transactions until STARTTLS (needs tls_cert/tls_key).
    require_tls: bool = False
    #: Require AUTH (password = bearer token of an ``ingest`` user; needs TLS).
    require_auth: bool = False
    #: PEM CA of the mail servers: TLS then requires a client certificate it issued, and
    #: that certificate authenticates the session (``tls:<CN>``) instead of AUTH.
    tls_client_ca: Path | None = None
    #: TLS from the first byte (SMTPS, RFC 8314) instead of STARTTLS.
    implicit_tls: bool = False
    max_message_bytes: int = 50 * 1024 * 1024
    max_recipients: int = 1000
    #: Messages being received or ingested at once. Peak memory per message is about
    #: 8-9x its size (aiosmtpd's receive buffers, the parse, the sealed copy), so the
    #: worst case is about max_concurrent x max_message_bytes x 9.
    max_concurrent: int = 8
    #: Processes that parse and seal messages (``start_smtp_server``'s ``preparer``
    #: opens the archive in each); 0 keeps everything in this process's threads.
    #: This process still receives, commits (in groups) and indexes.
    workers: int = 0
    max_connections: int = 200
    #: How long DATA waits for a free slot before answering 451.
    busy_wait_s: float = 10.0
    #: Upper bound on parse + seal + store for one message before answering 451.
    ingest_timeout_s: float = 120.0
    parse_timeout_s: float = 10.0
    idle_timeout_s: float = 300.0
    #: The whole DATA phase (354 to the final dot) must end within this; a sender
    #: trickling its message is answered 421 and disconnected, nothing stored.
    data_timeout_s: float = 600.0

    @property
    def starttls_required(self) -> bool:
        """Mail only after STARTTLS: asked for, or implied by client certificates."""
        return not self.implicit_tls and (self.require_tls or self.tls_client_ca is not None)
    hostname: str = field(default_factory=socket.gethostname)
    source: str = "smtp"
    limits: MimeLimits = DEFAULT_LIMITS


def tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    """The STARTTLS (or implicit TLS) context, or None without a certificate.

    Refuses inconsistent TLS/AUTH settings. With ``tls_client_ca`` the handshake
    requires a client certificate that CA issued: a client without one cannot
    finish it, so never reaches MAIL.
    """
    if config.tls_cert is None and config.tls_key is None:
        if config.require_tls:
            raise SmtpConfigError("require_tls needs tls_cert and tls_key")
        if config.require_auth:
            raise SmtpConfigError("AUTH is only offered over STARTTLS: set tls_cert and tls_key")
        if config.tls_client_ca is not None or config.implicit_tls:
            raise SmtpConfigError("client certificates and implicit TLS need tls_cert and tls_key")
        return None
    if config.implicit_tls and config.require_auth and config.tls_client_ca is None:
        raise SmtpConfigError("AUTH is only offered after STARTTLS: with implicit TLS, "
                              "authenticate by client certificate (tls_client_ca)")
    if config.tls_cert is None or config.tls_key is None:
        raise SmtpConfigError("set both tls_cert and tls_key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise SmtpConfigError(f"cannot load TLS certificate/key: {exc}") from exc
    if config.tls_client_ca is not None:
        try:
            context.load_verify_locations(cafile=config.tls_client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise SmtpConfigError(
                f"cannot load the client CA {config.tls_client_ca}: {exc}") from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def parse_allowlist(allowlist: tuple[str, ...]) -> tuple[Network, ...]:
    """The allowlist's networks; a bad CIDR is an ``SmtpConfigError`` at start."""
    try:
        return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in allowlist)
    except ValueError as exc:
        raise SmtpConfigError(f"invalid SMTP allowlist entry: {exc}") from exc
