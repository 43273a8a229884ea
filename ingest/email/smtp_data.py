"""Reading SMTP DATA in bulk (RFC 5321 §4.1.1.4, §4.5.2).

aiosmtpd reads DATA one line at a time through ``StreamReader.readuntil``; for a
64 KiB message that loop costs more CPU than parsing the MIME. This reads the
same bytes with one ``readuntil(CRLF.CRLF)`` per buffer-full and undoes the dot
transparency with one ``replace``, with aiosmtpd's limits and replies.

It never reads past the end-of-data line, so commands a client pipelines after
the message stay in the reader for the command loop.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Final

#: End of mail data: the CRLF ending the last line, a lone dot, CRLF.
END_OF_DATA: Final = b"\r\n.\r\n"
CRLF: Final = b"\r\n"


class DataState(enum.Enum):
    NOMINAL = "nominal"
    #: More than the size limit: the rest was read and dropped (552).
    TOO_MUCH = "too_much"
    #: A line longer than the line limit (500).
    TOO_LONG = "too_long"


def _overlap(tail: bytes) -> int:
    """Length of the longest end of ``tail`` that is a beginning of END_OF_DATA."""
    for size in (4, 3, 2, 1):
        if tail.endswith(END_OF_DATA[:size]):
            return size
    return 0


def has_long_line(data: bytes | bytearray, limit: int) -> bool:
    """Whether a line (CRLF included) is longer than ``limit`` bytes."""
    if len(data) <= limit:
        return False
    start, end = 0, len(data)
    while start < end:
        found = data.find(CRLF, start)
        stop = end if found < 0 else found + 2
        if stop - start > limit:
            return True
        start = stop
    return False


def unstuff(data: bytes | bytearray) -> bytes:
    """Remove the leading dot of every line (RFC 5321 §4.5.2), as aiosmtpd does."""
    out = bytes(data)
    if out.startswith(b"."):
        out = out[1:]
    return out.replace(b"\r\n.", CRLF)


async def read_data(
    reader: asyncio.StreamReader, size_limit: int | None, line_limit: int
) -> tuple[bytes, DataState]:
    """Read one message's DATA; return the unstuffed message and how it went.

    Past ``size_limit`` content bytes the rest is read and dropped (TOO_MUCH);
    a line longer than ``line_limit`` gives TOO_LONG. Raises
    ``asyncio.IncompleteReadError`` if the client goes away first.
    """
    kept = bytearray()
    total = 0  # bytes read, dropped ones included
    # The last bytes seen, starting with the CRLF that ended the DATA command:
    # an empty message is just ".CRLF".
    tail = CRLF
    state = DataState.NOMINAL
    while True:
        overlap = _overlap(tail)
        if overlap:
            # The terminator may have begun already: read only what could complete it,
            # so nothing after it is consumed. (No earlier end is possible: it would
            # mean a longer overlap.)
            chunk = await reader.readexactly(len(END_OF_DATA) - overlap)
        else:
            try:
                chunk = await reader.readuntil(END_OF_DATA)
            except asyncio.LimitOverrunError as exc:
                # No terminator in a full buffer (or it lies past the limit): take what
                # is certainly message, keeping a possible partial terminator buffered.
                chunk = await reader.read(exc.consumed)
                if not chunk:
                    raise asyncio.IncompleteReadError(bytes(kept), None) from None
        total += len(chunk)
        window = tail + chunk
        done = window.endswith(END_OF_DATA)
        tail = window[-4:]
        if state is DataState.NOMINAL:
            # Everything read so far but the final ".CRLF" is message content.
            if size_limit and total - 3 > size_limit:
                # Like aiosmtpd, an over-long line seen before the size ran out wins.
                kept += chunk
                long_line = has_long_line(kept, line_limit)
                state = DataState.TOO_LONG if long_line else DataState.TOO_MUCH
                kept = bytearray()
            else:
                kept += chunk
        if done:
            break
    if state is not DataState.NOMINAL:
        return b"", state
    del kept[-3:]  # ".CRLF"; the CRLF before it ends the last line
    if has_long_line(kept, line_limit):
        return b"", DataState.TOO_LONG
    return unstuff(kept), DataState.NOMINAL
