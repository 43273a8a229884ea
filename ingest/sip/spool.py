"""Encrypted call spool: audio is sealed record by record while the call runs.

A spool file is::

    b"CASPOOL1" | u32 header length | header JSON (wrapped DEK, no content)
    record*:  u32 length | sealed record (keys.seal_bytes, context "spool/<id>/<seq>")

Each record is a complete sealed blob whose context names the spool and its
sequence number, so records cannot be reordered, dropped from the middle, or
moved between spools undetected. A crash can only tear the final record; that
tail is discarded on recovery and everything before it is kept (the recording
becomes ``truncated``). The DEK is wrapped under the keyring's ``_spool``
purpose and kept in the header, so recovery after a restart can unwrap it.

Record payloads start with a type byte: ``M`` call info (JSON, latest wins),
``A`` audio segments, ``E`` end of call (JSON).

Exceptions::

    SpoolError     not a spool file, or its key cannot be unwrapped
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from ingest.audio import alaw_decode, ulaw_decode
from ingest.errors import IngestError
from ingest.sip.sdp import Codec
from keys import IntegrityError, Keyring, KeysError, WrappedKey, new_dek, seal_bytes, unseal_bytes

SPOOL_PURPOSE: Final = "_spool"
SPOOL_SUFFIX: Final = ".spool"
#: A spool being created (no header yet): never listed for recovery.
CREATING_SUFFIX: Final = ".creating"
#: A half-created spool older than this, and unlocked, was left by a crash.
STALE_CREATING_S: Final = 300.0
MAGIC: Final = b"CASPOOL1"
_LEN: Final = struct.Struct(">I")
_SEGMENT: Final = struct.Struct(">BBIH")
_CODEC_IDS: Final = {Codec.PCMU: 0, Codec.PCMA: 8}
_CODECS_BY_ID: Final = {0: Codec.PCMU, 8: Codec.PCMA}
#: Seal buffered audio at least this often (and so lose at most this much in a crash).
FLUSH_BYTES: Final = 16 * 1024
MAX_RECORD_BYTES: Final = 8 * 1024 * 1024


class SpoolError(IngestError):
    """A spool that cannot be read or unwrapped; ``reason`` never quotes content."""

    def __init__(self, path: Path, *, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"spool {path.name}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:  # keyword-only reason: rebuild explicitly
        return (_rebuild_spool_error, (self.path, self.reason))


def _rebuild_spool_error(path: Path, reason: str) -> SpoolError:
    return SpoolError(path, reason=reason)


def _context(spool_id: str) -> str:
    return f"spool/{spool_id}"


class SpoolWriter:
    """Append-only sealed spool for one call. Not thread-safe: one owner at a time."""

    def __init__(self, directory: Path, keyring: Keyring, *, spool_id: str | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.spool_id = spool_id or uuid.uuid4().hex
        self.path = directory / f"{self.spool_id}{SPOOL_SUFFIX}"
        self._dek = new_dek()
        wrapped = keyring.wrap(self._dek, SPOOL_PURPOSE, _context(self.spool_id))
        header = json.dumps(
            {
                "v": 1,
                "id": self.spool_id,
                "purpose": wrapped.purpose,
                "key_version": wrapped.version,
                "key": base64.b64encode(wrapped.blob).decode(),
                "created": datetime.now(UTC).isoformat(),
            }
        ).encode()
        # Made under a name recovery does not list, locked and given its header, and only
        # then named a spool: recovery running meanwhile (the server retries spools while
        # calls start) must never see a spool that has no header yet, take it for an
        # unreadable one and move it aside under the live call.
        creating = directory / f"{self.spool_id}{CREATING_SUFFIX}"
        self._fd = os.open(creating, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        # The lock tells recovery this spool belongs to a live call.
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(self._fd, MAGIC + _LEN.pack(len(header)) + header)
        creating.rename(self.path)
        self._seq = 0
        self._pending: list[bytes] = [b"A"]
        self._pending_bytes = 0
        self.closed = False

    def _record(self, payload: bytes) -> None:
        sealed = seal_bytes(payload, self._dek, f"{_context(self.spool_id)}/{self._seq}")
        self._seq += 1
        os.write(self._fd, _LEN.pack(len(sealed)) + sealed)

    def write_info(self, info: dict[str, Any]) -> None:
        self.flush()
        self._record(b"M" + json.dumps(info, separators=(",", ":")).encode())

    def add_audio(self, stream: int, codec: Codec, offset: int, payload: bytes) -> None:
        self._pending.append(_SEGMENT.pack(stream, _CODEC_IDS[codec], offset, len(payload)))
        self._pending.append(payload)
        self._pending_bytes += len(payload) + _SEGMENT.size
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._pending_bytes and not self.closed:
            self._record(b"".join(self._pending))
            self._pending = [b"A"]
            self._pending_bytes = 0

    def finish(self, end: dict[str, Any]) -> None:
        """Seal what is buffered plus the end record, fsync, close (still on disk)."""
        if self.closed:
            return
        self.flush()
        self._record(b"E" + json.dumps(end, separators=(",", ":")).encode())
        os.fsync(self._fd)
        self._close()

    def _close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)

    def discard(self) -> None:
        """Close and delete (a call that never carried audio, e.g. CANCELled)."""
        if not self.closed:
            self._close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def release(self) -> None:
        """Close without an end record (the file stays for recovery)."""
        if not self.closed:
            self.flush()
            self._close()


@dataclass(slots=True)
class SpoolContents:
    spool_id: str
    path: Path
    created: str
    info: dict[str, Any] = field(default_factory=dict)
    end: dict[str, Any] | None = None
    #: stream index -> 16-bit PCM at 8 kHz
    audio: dict[int, bytearray] = field(default_factory=dict)
    records: int = 0
    torn_tail: bool = False

    @property
    def complete(self) -> bool:
        return self.end is not None and not self.torn_tail


def _place(audio: dict[int, bytearray], stream: int, codec: int, offset: int, data: bytes) -> None:
    pcm = alaw_decode(data) if _CODECS_BY_ID[codec] is Codec.PCMA else ulaw_decode(data)
    buf = audio.setdefault(stream, bytearray())
    start = 2 * offset
    if len(buf) < start:
        buf.extend(bytes(start - len(buf)))
    buf[start : start + len(pcm)] = pcm


def read_spool(path: Path, keyring: Keyring) -> SpoolContents:
    """Unseal a spool; a torn or unauthentic tail ends it (flagged), never raises for that."""
    raw = path.read_bytes()
    if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + 4:
        raise SpoolError(path, reason="not a spool file")
    (hlen,) = _LEN.unpack_from(raw, len(MAGIC))
    pos = len(MAGIC) + 4
    try:
        header = json.loads(raw[pos : pos + hlen])
        spool_id = str(header["id"])
        wrapped = WrappedKey(
            str(header["purpose"]), int(header["key_version"]), base64.b64decode(header["key"])
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SpoolError(path, reason=f"bad header ({type(exc).__name__})") from None
    try:
        dek = keyring.unwrap(wrapped, _context(spool_id))
    except KeysError as exc:
        raise SpoolError(path, reason=f"key cannot be unwrapped ({type(exc).__name__})") from None
    contents = SpoolContents(spool_id, path, str(header.get("created", "")))
    pos += hlen
    seq = 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            contents.torn_tail = True
            break
        (size,) = _LEN.unpack_from(raw, pos)
        if size > MAX_RECORD_BYTES or pos + 4 + size > len(raw):
            contents.torn_tail = True
            break
        try:
            payload = unseal_bytes(
                raw[pos + 4 : pos + 4 + size], dek, f"{_context(spool_id)}/{seq}"
            )
        except IntegrityError:
            contents.torn_tail = True
            break
        pos += 4 + size
        seq += 1
        contents.records += 1
        kind, body = payload[:1], payload[1:]
        if kind == b"M":
            contents.info = json.loads(body)
        elif kind == b"E":
            contents.end = json.loads(body)
        elif kind == b"A":
            for stream, codec, offset, data in _segments(body):
                _place(contents.audio, stream, codec, offset, data)
    return contents


def _segments(body: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    pos = 0
    while pos + _SEGMENT.size <= len(body):
        stream, codec, offset, size = _SEGMENT.unpack_from(body, pos)
        pos += _SEGMENT.size
        if codec in _CODECS_BY_ID:
            yield stream, codec, offset, body[pos : pos + size]
        pos += size


def list_spools(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == SPOOL_SUFFIX)


def remove_stale_creating(directory: Path, *, older_than_s: float = STALE_CREATING_S,
                          now: float | None = None) -> list[Path]:
    """Remove spools a crash left half-created; returns what was removed.

    A ``.creating`` file holds at most the header (a wrapped key, never audio):
    the rename to its spool name happens before the first packet is written. A
    live writer holds its lock; the age check also spares one between its
    exclusive create and its lock.
    """
    if not directory.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - older_than_s
    removed: list[Path] = []
    for path in directory.iterdir():
        if path.suffix != CREATING_SUFFIX:
            continue
        try:
            if path.stat().st_mtime >= cutoff or is_live(path):
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def is_live(path: Path) -> bool:
    """True if a running writer holds this spool (so recovery must leave it alone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
