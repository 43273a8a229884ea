"""Chunked AES-256-GCM: streamable, range-readable, truncation- and reorder-evident.

Layout of a sealed blob::

    header (16 bytes): b"CMA1" | format u8 | 3 zero bytes | chunk size u32 | 4 zero bytes
    chunk*:            nonce (12) | ciphertext (<= chunk size) | tag (16)

Every chunk is authenticated with AAD = header | context | index u64 | last u8, so
the chunk size cannot be altered, chunks cannot be swapped or moved between blobs
(the context names the item and part), and cutting the blob at a chunk boundary
is detected because the new final chunk was not sealed as the last one.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.errors import IntegrityError

MAGIC: Final = b"CMA1"
FORMAT_VERSION: Final = 1
HEADER_SIZE_BYTES: Final = 16
NONCE_SIZE_BYTES: Final = 12
TAG_SIZE_BYTES: Final = 16
CHUNK_OVERHEAD_BYTES: Final = NONCE_SIZE_BYTES + TAG_SIZE_BYTES
CHUNK_SIZE_BYTES: Final = 256 * 1024
MAX_CHUNK_SIZE_BYTES: Final = 64 * 1024 * 1024

_HEADER = struct.Struct(">4sB3xI4x")
_AAD_TAIL = struct.Struct(">QB")


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Source(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _header(chunk_size: int) -> bytes:
    if not 0 < chunk_size <= MAX_CHUNK_SIZE_BYTES:
        raise ValueError(f"chunk size must be 1..{MAX_CHUNK_SIZE_BYTES} bytes")
    return _HEADER.pack(MAGIC, FORMAT_VERSION, chunk_size)


def _parse_header(header: bytes, context: str) -> int:
    if len(header) < HEADER_SIZE_BYTES:
        raise IntegrityError(context, reason="truncated header")
    magic, version, chunk_size = _HEADER.unpack(header[:HEADER_SIZE_BYTES])
    if magic != MAGIC or version != FORMAT_VERSION:
        raise IntegrityError(context, reason="not a sealed blob (bad magic or format)")
    if not 0 < chunk_size <= MAX_CHUNK_SIZE_BYTES:
        raise IntegrityError(context, reason="implausible chunk size in header")
    return int(chunk_size)


def sealed_size(plaintext_size: int, chunk_size: int = CHUNK_SIZE_BYTES) -> int:
    """Size of the sealed form of ``plaintext_size`` bytes."""
    chunks = max(1, -(-plaintext_size // chunk_size))
    return HEADER_SIZE_BYTES + plaintext_size + chunks * CHUNK_OVERHEAD_BYTES


class SealingWriter:
    """Seal a byte stream chunk by chunk into ``sink``; call :meth:`close` to finish.

    Nothing but sealed bytes ever reaches the sink, so the sink may be a file.
    """

    def __init__(
        self,
        sink: Sink,
        dek: bytes,
        context: str,
        *,
        chunk_size: int = CHUNK_SIZE_BYTES,
    ) -> None:
        header = _header(chunk_size)
        self._sink = sink
        self._aead = AESGCM(dek)
        self._prefix = header + context.encode()
        self._chunk = chunk_size
        self._buf = bytearray()
        self._index = 0
        self._closed = False
        self.plaintext_size = 0
        self.sealed_size = len(header)
        sink.write(header)

    def _emit(self, data: bytes | bytearray | memoryview, *, last: bool) -> None:
        nonce = os.urandom(NONCE_SIZE_BYTES)
        aad = self._prefix + _AAD_TAIL.pack(self._index, 1 if last else 0)
        sealed = self._aead.encrypt(nonce, data, aad)
        self._sink.write(nonce)
        self._sink.write(sealed)
        self._index += 1
        self.sealed_size += NONCE_SIZE_BYTES + len(sealed)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed SealingWriter")
        view = memoryview(data).cast("B")
        size = len(view)
        if not size:
            return 0
        self.plaintext_size += size
        pos = 0
        # A full buffer is held back until more data proves it is not the last chunk.
        if len(self._buf) == self._chunk:
            self._emit(self._buf, last=False)
            self._buf = bytearray()
        if self._buf:
            pos = min(self._chunk - len(self._buf), size)
            self._buf += view[:pos]
            if len(self._buf) == self._chunk and pos < size:
                self._emit(self._buf, last=False)
                self._buf = bytearray()
        while size - pos > self._chunk:
            self._emit(view[pos : pos + self._chunk], last=False)
            pos += self._chunk
        self._buf += view[pos:]
        return size

    def close(self) -> None:
        if self._closed:
            return
        self._emit(self._buf, last=True)
        self._buf = bytearray()
        self._closed = True


def _decrypt(
    aead: AESGCM,
    prefix: bytes,
    block: bytes | memoryview,
    index: int,
    *,
    last: bool,
    context: str,
) -> bytes:
    if len(block) < CHUNK_OVERHEAD_BYTES:
        raise IntegrityError(context, reason="truncated chunk", chunk=index)
    aad = prefix + _AAD_TAIL.pack(index, 1 if last else 0)
    try:
        return aead.decrypt(block[:NONCE_SIZE_BYTES], block[NONCE_SIZE_BYTES:], aad)
    except InvalidTag:
        reason = (
            "authentication failed (content modified, truncated or reordered)"
            if last
            else "authentication failed (content modified or reordered)"
        )
        raise IntegrityError(context, reason=reason, chunk=index) from None


def _read_exact(source: Source, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        got = source.read(remaining)
        if not got:
            break
        parts.append(got)
        remaining -= len(got)
    return b"".join(parts)


def open_sealed(source: Source, dek: bytes, context: str) -> Iterator[bytes]:
    """Yield the plaintext of a sealed stream chunk by chunk, verifying each chunk."""
    chunk_size = _parse_header(_read_exact(source, HEADER_SIZE_BYTES), context)
    aead = AESGCM(dek)
    prefix = _header(chunk_size) + context.encode()
    block_size = chunk_size + CHUNK_OVERHEAD_BYTES
    current = _read_exact(source, block_size)
    if not current:
        raise IntegrityError(context, reason="truncated: no chunks", chunk=0)
    index = 0
    while True:
        following = _read_exact(source, block_size)
        yield _decrypt(aead, prefix, current, index, last=not following, context=context)
        if not following:
            return
        current = following
        index += 1


def seal_bytes(
    data: bytes | bytearray | memoryview,
    dek: bytes,
    context: str,
    *,
    chunk_size: int = CHUNK_SIZE_BYTES,
) -> bytes:
    """Seal a whole buffer, encrypting every chunk straight into one output buffer."""
    view = memoryview(data).cast("B")
    header = _header(chunk_size)
    out = bytearray(sealed_size(len(view), chunk_size))
    target = memoryview(out)
    target[:HEADER_SIZE_BYTES] = header
    aead = AESGCM(dek)
    prefix = header + context.encode()
    count = max(1, -(-len(view) // chunk_size))
    pos = HEADER_SIZE_BYTES
    for index in range(count):
        chunk = view[index * chunk_size : (index + 1) * chunk_size]
        nonce = os.urandom(NONCE_SIZE_BYTES)
        target[pos : pos + NONCE_SIZE_BYTES] = nonce
        end = pos + NONCE_SIZE_BYTES + len(chunk) + TAG_SIZE_BYTES
        aad = prefix + _AAD_TAIL.pack(index, 1 if index == count - 1 else 0)
        aead.encrypt_into(nonce, chunk, aad, target[pos + NONCE_SIZE_BYTES : end])
        pos = end
    # A bytearray is bytes-like wherever it goes next; copying it would halve throughput.
    return out  # type: ignore[return-value]


def unseal_bytes(sealed: bytes | bytearray | memoryview, dek: bytes, context: str) -> bytes:
    """Open a whole sealed buffer, verifying every chunk, decrypting into one output."""
    view = memoryview(sealed).cast("B")
    chunk_size = _parse_header(bytes(view[:HEADER_SIZE_BYTES]), context)
    aead = AESGCM(dek)
    prefix = bytes(view[:HEADER_SIZE_BYTES]) + context.encode()
    block_size = chunk_size + CHUNK_OVERHEAD_BYTES
    body = view[HEADER_SIZE_BYTES:]
    if not len(body):
        raise IntegrityError(context, reason="truncated: no chunks", chunk=0)
    count = -(-len(body) // block_size)
    last_len = len(body) - (count - 1) * block_size
    if last_len < CHUNK_OVERHEAD_BYTES:
        raise IntegrityError(context, reason="truncated chunk", chunk=count - 1)
    out = bytearray((count - 1) * chunk_size + last_len - CHUNK_OVERHEAD_BYTES)
    target = memoryview(out)
    for index in range(count):
        block = body[index * block_size : (index + 1) * block_size]
        last = index == count - 1
        start = index * chunk_size
        try:
            aead.decrypt_into(
                block[:NONCE_SIZE_BYTES], block[NONCE_SIZE_BYTES:],
                prefix + _AAD_TAIL.pack(index, 1 if last else 0),
                target[start : start + len(block) - CHUNK_OVERHEAD_BYTES],
            )
        except InvalidTag:
            _decrypt(aead, prefix, block, index, last=last, context=context)  # raises
            raise
    return out  # type: ignore[return-value]  # bytes-like; a copy would halve throughput


def read_sealed_range(
    read_at: Callable[[int, int], bytes],
    total_size: int,
    dek: bytes,
    context: str,
    start: int,
    length: int,
) -> bytes:
    """Plaintext bytes ``[start, start+length)`` reading only the chunks that hold them."""
    header = read_at(0, HEADER_SIZE_BYTES)
    chunk_size = _parse_header(header, context)
    block_size = chunk_size + CHUNK_OVERHEAD_BYTES
    body_size = total_size - HEADER_SIZE_BYTES
    if body_size < CHUNK_OVERHEAD_BYTES:
        raise IntegrityError(context, reason="truncated: no chunks", chunk=0)
    count = -(-body_size // block_size)
    last_plain = body_size - (count - 1) * block_size - CHUNK_OVERHEAD_BYTES
    if last_plain < 0:
        raise IntegrityError(context, reason="truncated chunk", chunk=count - 1)
    plaintext_size = (count - 1) * chunk_size + last_plain
    start = max(0, start)
    end = min(plaintext_size, start + max(0, length))
    if start >= end:
        return b""
    aead = AESGCM(dek)
    prefix = header + context.encode()
    first, final = start // chunk_size, (end - 1) // chunk_size
    out: list[bytes] = []
    for index in range(first, final + 1):
        offset = HEADER_SIZE_BYTES + index * block_size
        block = read_at(offset, min(block_size, total_size - offset))
        plain = _decrypt(aead, prefix, block, index, last=index == count - 1, context=context)
        lo = start - index * chunk_size if index == first else 0
        hi = end - index * chunk_size if index == final else len(plain)
        out.append(plain[lo:hi])
    return b"".join(out)
