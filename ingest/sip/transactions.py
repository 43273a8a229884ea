"""SIP transactions, kept as simply as a UAS can afford (RFC 3261 17.2).

Answers are cached per (Call-ID, branch, CSeq, method) for
:data:`TRANSACTION_TTL_S`, so a retransmitted request gets the same answer and
never starts a second recording; a request still being worked on (a BYE
waiting for the archive) is remembered with no answer yet, and its
retransmissions are absorbed until the real answer is sent. Over UDP the
``200`` to an INVITE is retransmitted with timer T1 doubling up to T2 until the
ACK comes or timer B runs out (RFC 3261 13.3.1.4).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

from ingest.sip.message import SipMessage
from ingest.sip.transport import Reply

__all__ = [
    "T1_S",
    "T2_S",
    "TIMER_B_S",
    "TRANSACTION_TTL_S",
    "ResponseCache",
    "TransactionKey",
    "retransmit_until",
    "transaction_key",
]

T1_S: Final = 0.5
T2_S: Final = 4.0
TIMER_B_S: Final = 32.0
TRANSACTION_TTL_S: Final = 32.0

#: (Call-ID, Via branch, CSeq number, method): one server transaction.
TransactionKey = tuple[str, str, int, str]


def transaction_key(msg: SipMessage) -> TransactionKey:
    """The transaction a request belongs to; SipParseError for a malformed CSeq."""
    cseq_num, _ = msg.cseq
    return (msg.call_id, msg.branch, cseq_num, msg.method or "")


class ResponseCache:
    """The latest answer of every recent server transaction."""

    def __init__(self, ttl_s: float = TRANSACTION_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._answers: dict[TransactionKey, tuple[bytes | None, float]] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def replay(self, key: TransactionKey, reply: Reply) -> bool:
        """True if the transaction is known: its answer (if any yet) is sent again."""
        entry = self._answers.get(key)
        if entry is None:
            return False
        cached, _ = entry
        if cached is not None:
            reply(cached)
        return True

    def respond(self, key: TransactionKey, reply: Reply, response: SipMessage) -> bytes:
        """Send ``response`` and remember it as the transaction's answer."""
        raw = response.to_bytes()
        self._answers[key] = (raw, time.monotonic() + self.ttl_s)
        reply(raw)
        return raw

    def hold(self, key: TransactionKey) -> None:
        """Known, answer pending: retransmissions wait quietly for the real answer."""
        self._answers[key] = (None, time.monotonic() + self.ttl_s)

    def expire(self, now: float) -> None:
        """Forget transactions whose time is up."""
        for key, (_, expiry) in list(self._answers.items()):
            if expiry < now:
                del self._answers[key]


async def retransmit_until(raw: bytes, reply: Reply, *, done: Callable[[], bool]) -> None:
    """Send ``raw`` again at T1, 2*T1, ... (at most T2 apart) until ``done()`` or timer B."""
    interval = T1_S
    waited = 0.0
    while waited < TIMER_B_S:
        await asyncio.sleep(interval)
        waited += interval
        if done():
            return
        reply(raw)
        interval = min(interval * 2, T2_S)
