"""The bulk DATA reader: same bytes as aiosmtpd's line loop, never past the end."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.email.smtp_data import DataState, read_data

LIMIT = 1024 * 1024


def stuff(message: bytes) -> bytes:
    """What a client sends for ``message`` (which ends with CRLF or is empty)."""
    lines = message.split(b"\r\n")
    return b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)


async def feed_and_read(
    chunks: list[bytes], *, size_limit: int | None = None, line_limit: int = LIMIT,
    stream_limit: int = LIMIT, eof: bool = False,
) -> tuple[bytes, DataState, bytes]:
    reader = asyncio.StreamReader(limit=stream_limit)

    async def feed() -> None:
        for chunk in chunks:
            reader.feed_data(chunk)
            await asyncio.sleep(0)
        if eof:
            reader.feed_eof()

    feeder = asyncio.create_task(feed())
    content, state = await read_data(reader, size_limit, line_limit)
    await feeder
    reader.feed_eof()
    rest = await reader.read()
    return content, state, rest


def run(chunks: list[bytes], **kwargs: object) -> tuple[bytes, DataState, bytes]:
    return asyncio.run(feed_and_read(chunks, **kwargs))  # type: ignore[arg-type]


def test_dot_transparency_is_undone_and_pipelined_commands_stay_unread() -> None:
    message = b"Subject: x\r\n\r\n.hidden line\r\n..two dots\r\nlast.\r\n"
    content, state, rest = run([stuff(message) + b".\r\nMAIL FROM:<a@b>\r\nQUIT\r\n"])
    assert state is DataState.NOMINAL
    assert content == message
    assert rest == b"MAIL FROM:<a@b>\r\nQUIT\r\n"


def test_empty_message_and_blank_line_message() -> None:
    assert run([b".\r\nQUIT\r\n"]) == (b"", DataState.NOMINAL, b"QUIT\r\n")
    assert run([b"\r\n.\r\nNOOP\r\n"]) == (b"\r\n", DataState.NOMINAL, b"NOOP\r\n")


def test_terminator_split_over_every_packet_boundary() -> None:
    wire = b"a\r\n.b\r\n\r\n" + b".\r\n" + b"RSET\r\n"
    for cut in range(1, len(wire)):
        content, state, rest = run([wire[:cut], wire[cut:]])
        assert (content, state, rest) == (b"a\r\nb\r\n\r\n", DataState.NOMINAL, b"RSET\r\n"), cut


def test_a_line_holding_only_dot_space_or_dot_cr_is_not_the_end() -> None:
    message = b"x\r\n. \r\n.\rq\r\n"
    content, _, rest = run([stuff(message) + b".\r\n"])
    assert content == message and rest == b""
    # A client that forgets to stuff loses the leading dot, as with aiosmtpd.
    assert run([message + b".\r\n"])[0] == b"x\r\n \r\n\rq\r\n"


def test_message_larger_than_the_stream_buffer() -> None:
    message = (b"0123456789" * 100 + b"\r\n") * 300  # ~300 KiB, stream limit 4 KiB
    wire = stuff(message) + b".\r\nQUIT\r\n"
    chunks = [wire[i:i + 1500] for i in range(0, len(wire), 1500)]
    content, state, rest = run(chunks, stream_limit=4096)
    assert state is DataState.NOMINAL and content == message and rest == b"QUIT\r\n"


def test_over_the_size_limit_is_read_to_the_end_and_reported() -> None:
    message = b"y" * 998 + b"\r\n"
    content, state, rest = run([message * 20 + b".\r\nQUIT\r\n"], size_limit=10_000,
                               stream_limit=4096)
    assert (content, state, rest) == (b"", DataState.TOO_MUCH, b"QUIT\r\n")
    exact = message * 10  # exactly the limit is fine, like aiosmtpd
    assert run([exact + b".\r\n"], size_limit=len(exact))[1] is DataState.NOMINAL
    assert run([exact + b"z\r\n.\r\n"], size_limit=len(exact) + 2)[1] is DataState.TOO_MUCH


def test_a_line_over_the_line_limit_is_reported() -> None:
    content, state, rest = run([b"a\r\n" + b"b" * 5000 + b"\r\n.\r\nQUIT\r\n"],
                               line_limit=1000, stream_limit=4096)
    assert (content, state, rest) == (b"", DataState.TOO_LONG, b"QUIT\r\n")
    assert run([b"b" * 998 + b"\r\n.\r\n"], line_limit=1000)[1] is DataState.NOMINAL
    # A long line before the size limit runs out is reported as such (aiosmtpd's order).
    wire = b"b" * 5000 + b"\r\n" + b"c" * 998 + b"\r\n"
    assert run([wire * 4 + b".\r\n"], size_limit=9000, line_limit=1000,
               stream_limit=4096)[1] is DataState.TOO_LONG


def test_client_leaving_mid_message_raises() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        run([b"Subject: cut\r\n\r\nhalf a bo"], eof=True)
    with pytest.raises(asyncio.IncompleteReadError):
        run([b"x" * 10000], eof=True, stream_limit=4096)


lines = st.lists(
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(lines=lines, cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=8),
       limit=st.sampled_from([16, 64, LIMIT]))
def test_any_message_any_packet_split_reads_back_exactly(
    lines: list[bytes], cuts: list[int], limit: int
) -> None:
    message = b"".join(line + b"\r\n" for line in lines)
    wire = stuff(message) + b".\r\nQUIT\r\n"
    chunks, pos = [], 0
    for cut in cuts:
        chunks.append(wire[pos:pos + cut])
        pos += cut
    chunks.append(wire[pos:])
    content, state, rest = run([c for c in chunks if c], stream_limit=max(limit, 8))
    assert state is DataState.NOMINAL
    assert content == message
    assert rest == b"QUIT\r\n"
