"""SIPREC session recording server (RFC 7866, metadata RFC 7865) and its call spool.

What ``commarchive serve`` uses::

    recover_spools(archive)                     # at startup: crashed calls -> truncated items
    handle = await start_sip_server(archive, SipConfig(host, port))
    ...
    await handle.close()

Exceptions (each converted where it enters; the server answers SIP errors instead)::

    SipParseError     malformed SIP (answered 400 with the reason phrase)
    SdpError          malformed SDP (400)
    MetadataError     unsafe or malformed recording metadata XML (400)
    SpoolError        a spool that cannot be read or unwrapped (moved aside, never deleted)
"""

from __future__ import annotations

from ingest.sip.recording import recover_spools
from ingest.sip.server import SipConfig, SipCounters, SipServerHandle, start_sip_server

__all__ = ["SipConfig", "SipCounters", "SipServerHandle", "recover_spools", "start_sip_server"]
