"""PBX drop folder: ``<name>.wav`` plus ``<name>.json`` sidecar, ingested once each.

The recording may also be ``.mp3``, ``.flac``, ``.ogg``/``.opus`` (any case, as
PBXs write ``.WAV`` too); its format is recognised from its bytes
(:mod:`ingest.audio`), so a GSM 6.10 file named ``.wav`` is read as GSM, and one
it cannot decode is rejected with its format named. Two recordings with one
stem (``a.wav`` and ``a.mp3``) are rejected together: which one the sidecar
describes cannot be told.

A pair is taken once both files have stopped changing for ``settle_s`` (the PBX
has finished writing). The files are the PBX's own: they are deleted only after
the archive has the call durably; a crash in between re-ingests the same bytes,
which the archive recognises by the file hash. A pair the archive cannot take
*now* stays for the next scan.

A pair that cannot become a call is *rejected*: each file is sealed into the
rejected folder as ``<file>.sealed`` and the plaintext original deleted, so no
recording stays readable on disk (invariant 1 of the design); beside them
``<name>.reason.txt`` says why, in plain text and without content, for the
operator. A sealed file is like a call spool: a fresh DEK, wrapped under the
keyring's ``_rejected`` purpose in the file's header, seals the bytes in
chunks (``keys.SealingWriter``), so only the archive's keys open it
(:func:`open_rejected`) and a copy of the data directory alone opens nothing.
Rejected material does not stay forever: :func:`purge_rejected` deletes what
is older than the retention the sweep passes (``commarchive serve`` runs it
with the retention sweep), and :func:`erase_rejected` finds and deletes the
rejected recordings whose sealed sidecar names a data subject (for erasure;
those without a readable sidecar are listed for review, never guessed).

Exceptions (``ingest.errors.IngestError``)::

    RejectedFileError   a sealed rejected file that cannot be read or unwrapped
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import struct
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from archive.audit import SYSTEM_ACTOR
from archive.errors import ArchiveError, TemporaryFailure
from ingest.calls import CallInputError, ingest_call_file
from ingest.errors import IngestError
from keys import Keyring, KeysError, SealingWriter, WrappedKey, new_dek, open_sealed

if TYPE_CHECKING:
    from archive.service import Archive

__all__ = [
    "DropFolderConfig",
    "RejectedErasure",
    "RejectedFileError",
    "ScanResult",
    "erase_rejected",
    "open_rejected",
    "purge_rejected",
    "run_drop_folder",
    "scan_once",
]

log = logging.getLogger("commarchive.dropfolder")

AUDIO_SUFFIXES: Final = (".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus")
SIDECAR_SUFFIX: Final = ".json"
SOURCE: Final = "dropfolder"
REASON_SUFFIX: Final = ".reason.txt"
SEALED_SUFFIX: Final = ".sealed"
#: The keyring purpose whose KEK wraps the DEKs of rejected files (like ``_spool``).
REJECTED_PURPOSE: Final = "_rejected"
REJECTED_MAGIC: Final = b"CAREJCT1"
_LEN: Final = struct.Struct(">I")
_MAX_HEADER_BYTES: Final = 64 * 1024
_COPY_BYTES: Final = 1024 * 1024


class RejectedFileError(IngestError):
    """A sealed rejected file that cannot be read or unwrapped; ``reason`` quotes no content."""

    def __init__(self, path: Path, *, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"rejected file {path.name}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_rejected_error, (self.path, self.reason))


def _rebuild_rejected_error(path: Path, reason: str) -> RejectedFileError:
    return RejectedFileError(path, reason=reason)


@dataclass(frozen=True, slots=True)
class DropFolderConfig:
    path: Path
    #: Where bad pairs go (default: ``<path>/rejected``).
    rejected: Path | None = None
    poll_interval_s: float = 2.0
    #: A file must be unchanged this long before it is read.
    settle_s: float = 2.0
    #: A lone WAV or sidecar older than this is rejected as unpaired.
    orphan_after_s: float = 3600.0
    max_audio_bytes: int = 1024 * 1024 * 1024

    @property
    def rejected_dir(self) -> Path:
        return self.rejected or self.path / "rejected"


@dataclass(slots=True)
class ScanResult:
    ingested: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    waiting: int = 0


def _settled(path: Path, now: float, settle_s: float) -> bool:
    try:
        return now - path.stat().st_mtime >= settle_s
    except FileNotFoundError:
        return False


def _context(file_id: str) -> str:
    return f"rejected/{file_id}"


def _seal_file(keyring: Keyring, source: Path, target_dir: Path) -> Path:
    """Seal ``source`` into ``target_dir/<name>.sealed`` (durably), then delete ``source``."""
    file_id = uuid.uuid4().hex
    dek = new_dek()
    wrapped = keyring.wrap(dek, REJECTED_PURPOSE, _context(file_id))
    header = json.dumps({
        "v": 1, "id": file_id, "name": source.name, "purpose": wrapped.purpose,
        "key_version": wrapped.version, "key": base64.b64encode(wrapped.blob).decode(),
        "rejected_at": datetime.now(UTC).isoformat(),
    }).encode()
    target = target_dir / f"{source.name}{SEALED_SUFFIX}"
    partial = target_dir / f".{file_id}.partial"
    try:
        with source.open("rb") as plain, partial.open("xb") as out:
            out.write(REJECTED_MAGIC + _LEN.pack(len(header)) + header)
            writer = SealingWriter(out, dek, _context(file_id))
            while chunk := plain.read(_COPY_BYTES):
                writer.write(chunk)
            writer.close()
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    source.unlink()
    return target


def open_rejected(keyring: Keyring, path: Path) -> tuple[str, bytes]:
    """The original name and bytes of a sealed rejected file (for an operator's review)."""
    with path.open("rb") as sealed:
        head = sealed.read(len(REJECTED_MAGIC) + _LEN.size)
        if len(head) < len(REJECTED_MAGIC) + _LEN.size or not head.startswith(REJECTED_MAGIC):
            raise RejectedFileError(path, reason="not a sealed rejected file")
        (size,) = _LEN.unpack_from(head, len(REJECTED_MAGIC))
        if size > _MAX_HEADER_BYTES:
            raise RejectedFileError(path, reason="implausible header")
        try:
            header = json.loads(sealed.read(size))
            file_id, name = str(header["id"]), str(header["name"])
            wrapped = WrappedKey(str(header["purpose"]), int(header["key_version"]),
                                 base64.b64decode(header["key"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise RejectedFileError(path, reason=f"bad header ({type(exc).__name__})") from None
        try:
            dek = keyring.unwrap(wrapped, _context(file_id))
            data = b"".join(open_sealed(sealed, dek, _context(file_id)))
        except KeysError as exc:
            raise RejectedFileError(
                path, reason=f"key cannot be unwrapped or content altered ({type(exc).__name__})"
            ) from None
    return name, data


def _reject(
    keyring: Keyring, config: DropFolderConfig, stem: str, files: list[Path], reason: str
) -> None:
    target = config.rejected_dir
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    for f in files:
        if f.exists():
            _seal_file(keyring, f, target)
    (target / f"{stem}{REASON_SUFFIX}").write_text(reason + "\n")
    log.warning("drop folder: rejected %s: %s", stem, reason)


def _seal_leftovers(keyring: Keyring, config: DropFolderConfig) -> None:
    """Seal plaintext an older version left in the rejected folder (reasons stay plain)."""
    directory = config.rejected_dir
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        name = entry.name
        if (entry.is_file() and not name.startswith(".")
                and not name.endswith((SEALED_SUFFIX, REASON_SUFFIX))):
            _seal_file(keyring, entry, directory)
            log.info("drop folder: sealed %s left in plaintext in the rejected folder", name)


@dataclass(frozen=True, slots=True)
class RejectedErasure:
    """What :func:`erase_rejected` did: stems deleted, and stems it could not attribute."""

    erased: list[str]
    #: Rejected recordings without a sidecar that can be read: nobody can say whose they
    #: are without listening, so they are left for review (and the sweep's purge).
    unattributed: list[str]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def erase_rejected(
    archive: Archive, config: DropFolderConfig, identifier: str, *, actor: str = SYSTEM_ACTOR
) -> RejectedErasure:
    """Delete every rejected recording whose sidecar names ``identifier`` (any written form).

    Sidecar values are normalised like the identifier (``Archive.normalise_subject``),
    so ``+31 20 123 4567`` in a sidecar matches ``0201234567``. One audit event.
    """
    directory = config.rejected_dir
    wanted = archive.normalise_subject(identifier)
    stems: dict[str, list[Path]] = {}
    if directory.is_dir():
        for entry in directory.iterdir():
            if entry.is_file() and not entry.name.startswith("."):
                stems.setdefault(_stem_of(entry.name), []).append(entry)
    erased: list[str] = []
    unattributed: list[str] = []
    for stem, files in sorted(stems.items()):
        sidecar = next((f for f in files if f.name.endswith(SIDECAR_SUFFIX + SEALED_SUFFIX)), None)
        try:
            if sidecar is None:
                raise RejectedFileError(directory / stem, reason="no sidecar")
            values = _strings(json.loads(open_rejected(archive.keyring, sidecar)[1]))
        except (RejectedFileError, ValueError):
            unattributed.append(stem)
            continue
        forms = set()
        for value in values:
            with contextlib.suppress(Exception):  # not an identifier: cannot name anyone
                forms.add(archive.normalise_subject(value))
        if wanted in forms:
            for f in files:
                f.unlink(missing_ok=True)
            erased.append(stem)
    archive.audit.record(actor=actor, role="privacy", action="erase_rejected", subject=wanted,
                         detail={"erased": len(erased), "unattributed": len(unattributed)})
    return RejectedErasure(erased, unattributed)


def _stem_of(name: str) -> str:
    if name.endswith(REASON_SUFFIX):
        return name[: -len(REASON_SUFFIX)]
    return Path(name.removesuffix(SEALED_SUFFIX)).stem


def purge_rejected(
    config: DropFolderConfig, *, older_than: timedelta, now: float | None = None,
    dry_run: bool = False,
) -> list[str]:
    """Delete rejected files (sealed recordings and reasons) older than ``older_than``.

    Returns the names (stems) of the rejected recordings removed (with
    ``dry_run``: that would be removed), sorted. Run by every retention sweep,
    so rejected material is kept no longer than needed.
    """
    directory = config.rejected_dir
    if not directory.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - older_than.total_seconds()
    purged: set[str] = set()
    for entry in directory.iterdir():
        if not entry.is_file() or entry.name.startswith("."):
            continue
        try:
            if entry.stat().st_mtime >= cutoff:
                continue
            if not dry_run:
                entry.unlink()
        except FileNotFoundError:
            continue
        purged.add(_stem_of(entry.name))
    if purged and not dry_run:
        log.info("drop folder: purged %d rejected recording(s)", len(purged))
    return sorted(purged)


def _pairs(config: DropFolderConfig) -> dict[str, dict[str, Path]]:
    """Files by stem: ``audio``, ``sidecar``, and ``extra`` for a second recording."""
    found: dict[str, dict[str, Path]] = {}
    for entry in sorted(config.path.iterdir()):
        if not entry.is_file() or entry.name.startswith("."):
            continue
        suffix = entry.suffix.lower()
        if suffix in AUDIO_SUFFIXES:
            slot = found.setdefault(entry.stem, {})
            slot["extra" if "audio" in slot else "audio"] = entry
        elif suffix == SIDECAR_SUFFIX:
            found.setdefault(entry.stem, {})["sidecar"] = entry
    return found


def scan_once(
    archive: Archive, config: DropFolderConfig, *, now: float | None = None
) -> ScanResult:
    """Ingest every settled pair in the folder once (blocking; run it in a thread)."""
    now = time.time() if now is None else now
    result = ScanResult()
    if not config.path.is_dir():
        return result
    _seal_leftovers(archive.keyring, config)
    for stem, files in sorted(_pairs(config).items()):
        audio, sidecar = files.get("audio"), files.get("sidecar")
        present = [f for f in (audio, sidecar, files.get("extra")) if f is not None]
        if not all(_settled(f, now, config.settle_s) for f in present):
            result.waiting += 1
            continue
        if "extra" in files:
            _reject(archive.keyring, config, stem, present,
                    "two recordings share this name ("
                    + ", ".join(sorted(f.name for f in present if f is not sidecar))
                    + "): the sidecar cannot say which one it describes")
            result.rejected.append(stem)
            continue
        if audio is None or sidecar is None:
            if all(_settled(f, now, config.orphan_after_s) for f in present):
                missing = "audio file" if audio is None else "JSON sidecar"
                _reject(archive.keyring, config, stem, present,
                        f"no {missing} arrived for this recording")
                result.rejected.append(stem)
            else:
                result.waiting += 1
            continue
        try:
            if audio.stat().st_size > config.max_audio_bytes:
                raise CallInputError("audio file too large")
            # The sidecar is read before up to 1 GiB of audio (a bad one costs no audio read).
            ingest = ingest_call_file(
                archive, audio, sidecar.read_bytes(), source=SOURCE, actor=SYSTEM_ACTOR
            ).ingest
        except CallInputError as exc:
            _reject(archive.keyring, config, stem, [audio, sidecar], exc.reason)
            result.rejected.append(stem)
            continue
        except TemporaryFailure as exc:
            log.warning("drop folder: %s kept for retry: %s", stem, exc.reason)
            result.waiting += 1
            continue
        except ArchiveError as exc:
            _reject(archive.keyring, config, stem, [audio, sidecar],
                    f"archive refused it ({exc.code})")
            result.rejected.append(stem)
            continue
        # Durable now: the PBX's files may go (audio first; a lone sidecar is harmless).
        audio.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        (result.ingested if ingest.created else result.duplicates).append(ingest.item_id)
    return result


async def run_drop_folder(
    archive: Archive, config: DropFolderConfig, *, stop: asyncio.Event | None = None
) -> None:
    """Poll the folder until cancelled (or ``stop`` is set); ingest runs off the event loop."""
    config.path.mkdir(parents=True, exist_ok=True)
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await asyncio.to_thread(scan_once, archive, config)
        except OSError as exc:
            log.error("drop folder scan failed: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=config.poll_interval_s)
