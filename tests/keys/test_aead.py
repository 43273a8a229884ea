"""Chunked AES-256-GCM: round trips, range reads, and every kind of tampering."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import (
    IntegrityError,
    SealingWriter,
    new_dek,
    open_sealed,
    read_sealed_range,
    seal_bytes,
    sealed_size,
    unseal_bytes,
)
from keys.aead import CHUNK_OVERHEAD_BYTES, HEADER_SIZE_BYTES

CHUNK = 1024
BLOCK = CHUNK + CHUNK_OVERHEAD_BYTES


class _Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.parts.append(bytes(data))
        return len(data)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 7])
def test_round_trip_at_chunk_edges(size: int) -> None:
    dek, data = new_dek(), os.urandom(size)
    sealed = seal_bytes(data, dek, "item/original", chunk_size=CHUNK)
    assert len(sealed) == sealed_size(size, CHUNK)
    assert unseal_bytes(sealed, dek, "item/original") == data
    assert b"".join(open_sealed(io.BytesIO(sealed), dek, "item/original")) == data


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=6 * CHUNK), st.lists(st.integers(1, 3 * CHUNK), max_size=20),
       st.integers(0, 7 * CHUNK), st.integers(0, 3 * CHUNK))
def test_streamed_writes_in_any_pieces_and_any_range(
    data: bytes, cuts: list[int], start: int, length: int
) -> None:
    dek = new_dek()
    sink = _Sink()
    writer = SealingWriter(sink, dek, "ctx", chunk_size=CHUNK)
    pos = 0
    for cut in cuts:
        writer.write(data[pos : pos + cut])
        pos += cut
    writer.write(data[pos:])
    writer.close()
    sealed = b"".join(sink.parts)
    assert unseal_bytes(sealed, dek, "ctx") == data
    got = read_sealed_range(lambda o, n: sealed[o : o + n], len(sealed), dek, "ctx",
                            start, length)
    assert got == data[start : start + length]


def _sealed(chunks: int = 4) -> tuple[bytes, bytes]:
    dek = new_dek()
    return dek, seal_bytes(os.urandom(chunks * CHUNK - 10), dek, "it/original", chunk_size=CHUNK)


def test_flipped_byte_is_detected_with_its_chunk() -> None:
    dek, sealed = _sealed()
    broken = bytearray(sealed)
    broken[HEADER_SIZE_BYTES + BLOCK + 40] ^= 0x01
    with pytest.raises(IntegrityError) as err:
        unseal_bytes(bytes(broken), dek, "it/original")
    assert err.value.chunk == 1
    assert "it/original" in str(err.value)


def test_truncation_at_a_chunk_boundary_is_detected() -> None:
    dek, sealed = _sealed()
    cut = sealed[: HEADER_SIZE_BYTES + 2 * BLOCK]
    with pytest.raises(IntegrityError, match="truncated"):
        unseal_bytes(cut, dek, "it/original")
    with pytest.raises(IntegrityError):
        b"".join(open_sealed(io.BytesIO(cut), dek, "it/original"))


def test_truncation_mid_chunk_and_empty_body_are_detected() -> None:
    dek, sealed = _sealed()
    for cut in (sealed[:-5], sealed[:HEADER_SIZE_BYTES], sealed[:HEADER_SIZE_BYTES + 10]):
        with pytest.raises(IntegrityError):
            unseal_bytes(cut, dek, "it/original")


def test_swapped_chunks_are_detected() -> None:
    dek, sealed = _sealed()
    body = sealed[HEADER_SIZE_BYTES:]
    blocks = [body[i : i + BLOCK] for i in range(0, len(body), BLOCK)]
    blocks[0], blocks[1] = blocks[1], blocks[0]
    with pytest.raises(IntegrityError) as err:
        unseal_bytes(sealed[:HEADER_SIZE_BYTES] + b"".join(blocks), dek, "it/original")
    assert err.value.chunk == 0


def test_blob_moved_to_another_item_or_key_does_not_open() -> None:
    dek, sealed = _sealed()
    with pytest.raises(IntegrityError):
        unseal_bytes(sealed, dek, "other-item/original")
    with pytest.raises(IntegrityError):
        unseal_bytes(sealed, new_dek(), "it/original")


def test_header_chunk_size_cannot_be_altered() -> None:
    dek, sealed = _sealed()
    broken = bytearray(sealed)
    broken[9] ^= 0x04  # chunk size field
    with pytest.raises(IntegrityError):
        unseal_bytes(bytes(broken), dek, "it/original")


def test_sealed_bytes_do_not_contain_the_plaintext() -> None:
    marker = b"customer said: my password is hunter2 " * 100
    sealed = seal_bytes(marker, new_dek(), "x")
    assert b"hunter2" not in sealed
