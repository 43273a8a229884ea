"""SIPREC session recording server (RFC 7866, metadata RFC 7865) and its call spool.

What ``commarchive serve`` uses::

    recover_spools(archive)                     # at startup: crashed calls -> truncated items
    handle = await start_sip_server(archive, SipConfig(host, port))
    ...
    await handle.close()

Modules, from the wire up: ``message`` (SIP syntax), ``transport``
(UDP/TCP/TLS listeners; TLS contexts and client certificates in
:mod:`ingest.tls`), ``transactions`` (answers per transaction, 200 retransmission), ``server``
(wiring, routing, housekeeping), ``uas`` (what each request does to a
session), ``session`` (one session and its ``CallState`` machine), ``media``
(RTP ports and streams), ``srtp`` (SDES keys, libsrtp decryption), ``sdp``,
``metadata``, ``rtp`` (timeline), ``spool`` (sealed call spool), ``recording``
(spool -> call item, crash recovery), ``config``, ``counters`` and ``tasks``
(the server's background tasks). This package may import ``archive`` and ``keys``
and ``ingest``'s shared modules (``calls``, ``audio``, ``errors``), never
``search_api`` or ``commarchive``.

Exceptions (each converted where it enters; the server answers SIP errors
instead; all derive from :class:`ingest.errors.IngestError`)::

    SipParseError     malformed SIP (answered 400 with the reason phrase)
    SdpError          malformed SDP (400)
    MetadataError     unsafe or malformed recording metadata XML (400)
    TlsConfigError    a certificate, key, CA file or fingerprint that cannot be used (at start)
    SpoolError        a spool that cannot be read or unwrapped (moved aside, never deleted)
    InvalidTransition a session state change the machine does not have (a bug)
"""

from __future__ import annotations

from ingest.sip.config import SipConfig, SipTlsConfig
from ingest.sip.counters import SipCounters
from ingest.sip.recording import recover_spools
from ingest.sip.server import SipServerHandle, start_sip_server

__all__ = [
    "SipConfig",
    "SipCounters",
    "SipServerHandle",
    "SipTlsConfig",
    "recover_spools",
    "start_sip_server",
]
