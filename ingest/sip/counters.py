"""What the SIPREC server counts: requests, calls, RTP packets, failures, loop lag.

Every layer of the server adds to one :class:`SipCounters`; ``commarchive
serve`` and the tests read it through the server handle, and Prometheus
through :class:`SipCollector` (read at scrape time, nothing counted twice).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["SipCollector", "SipCounters"]


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


#: Counters exposed as ``commarchive_sip_<name>_total``, with their help text.
_EXPOSED: dict[str, str] = {
    "calls_started": "SIPREC sessions accepted.",
    "calls_rejected": "SIPREC INVITEs refused (busy, shutting down, bad offer).",
    "calls_archived": "Calls sealed and archived (acknowledged).",
    "calls_truncated": "Calls archived as truncated (ended by timeout or recovered after a crash).",
    "calls_without_audio": "Sessions that ended without any RTP (nothing archived).",
    "archive_failures": "Calls whose archiving failed for now (retried from the spool).",
    "rtp_packets": "RTP packets received on recording streams.",
    "dropped_rtp": "RTP packets dropped (foreign source, SRTP replay or forgery, unusable).",
    "rtp_duplicates": "Duplicate RTP packets (same sequence number) ignored.",
    "requests": "SIP requests received.",
    "bad_requests": "SIP requests answered 4xx for being malformed.",
}


class SipCollector(Collector):
    """The SIPREC server's counters and its live calls, for ``/metrics``."""

    def __init__(self, counters: SipCounters, active_calls: Callable[[], int]) -> None:
        self._counters = counters
        self._active_calls = active_calls

    def collect(self) -> Iterator[Metric]:
        active = GaugeMetricFamily("commarchive_sip_calls_active",
                                   "SIPREC calls being recorded now.")
        active.add_metric([], self._active_calls())
        yield active
        for name, text in _EXPOSED.items():
            family = CounterMetricFamily(f"commarchive_sip_{name}", text)
            family.add_metric([], getattr(self._counters, name))
            yield family
