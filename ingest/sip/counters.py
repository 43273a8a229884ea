"""What the SIPREC server counts: requests, calls, RTP packets, failures, loop lag.

Every layer of the server adds to one :class:`SipCounters`; ``commarchive
serve`` and the tests read it through the server handle.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SipCounters"]


@dataclass(slots=True)
class SipCounters:
    requests: int = 0
    bad_requests: int = 0
    dropped_sip: int = 0
    dropped_rtp: int = 0
    rtp_packets: int = 0
    rtp_duplicates: int = 0
    rtp_events: int = 0
    calls_started: int = 0
    calls_rejected: int = 0
    #: Requests from addresses outside the allowlist (answered 403).
    refused: int = 0
    #: RTP packets from a source other than the stream's latched one (dropped).
    rtp_foreign: int = 0
    #: SIP over TLS connections cut off: failed handshake or a client certificate not allowed.
    tls_refused: int = 0
    #: SRTP packets dropped by the replay check (already received, or too old).
    srtp_replays: int = 0
    #: SRTP packets dropped because they failed authentication (forged, tampered, not SRTP).
    srtp_auth_failures: int = 0
    calls_archived: int = 0
    calls_truncated: int = 0
    #: Sessions that ended without ever receiving RTP (not archived).
    calls_without_audio: int = 0
    archive_failures: int = 0
    #: Worst event-loop delay seen by the housekeeping timer (ms): a stall indicator.
    loop_lag_max_ms: int = 0

    def srtp_dropped(self, *, replay: bool) -> None:
        """An SRTP packet libsrtp refused: dropped, never recorded."""
        self.dropped_rtp += 1
        if replay:
            self.srtp_replays += 1
        else:
            self.srtp_auth_failures += 1

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}
