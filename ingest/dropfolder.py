"""PBX drop folder: ``<name>.wav`` plus ``<name>.json`` sidecar, ingested once each.

A pair is taken once both files have stopped changing for ``settle_s`` (the PBX
has finished writing). The files are the PBX's own: they are deleted only after
the archive has the call durably; a crash in between re-ingests the same bytes,
which the archive recognises by the file hash. A pair that cannot become a call
is moved to the rejected folder with a ``<name>.reason.txt`` (the reason only,
never content); a pair the archive cannot take *now* stays for the next scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from archive.audit import SYSTEM_ACTOR
from archive.errors import ArchiveError, TemporaryFailure
from ingest.calls import CallInputError, ingest_call_file

if TYPE_CHECKING:
    from archive.service import Archive

log = logging.getLogger("commarchive.dropfolder")

AUDIO_SUFFIXES: Final = (".wav",)
SIDECAR_SUFFIX: Final = ".json"
SOURCE: Final = "dropfolder"


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


def _reject(config: DropFolderConfig, stem: str, files: list[Path], reason: str) -> None:
    target = config.rejected_dir
    target.mkdir(parents=True, exist_ok=True)
    for f in files:
        if f.exists():
            f.replace(target / f.name)
    (target / f"{stem}.reason.txt").write_text(reason + "\n")
    log.warning("drop folder: rejected %s: %s", stem, reason)


def _pairs(config: DropFolderConfig) -> dict[str, dict[str, Path]]:
    found: dict[str, dict[str, Path]] = {}
    for entry in config.path.iterdir():
        if not entry.is_file() or entry.name.startswith("."):
            continue
        suffix = entry.suffix.lower()
        if suffix in AUDIO_SUFFIXES:
            found.setdefault(entry.stem, {})["audio"] = entry
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
    for stem, files in sorted(_pairs(config).items()):
        audio, sidecar = files.get("audio"), files.get("sidecar")
        present = [f for f in (audio, sidecar) if f is not None]
        if not all(_settled(f, now, config.settle_s) for f in present):
            result.waiting += 1
            continue
        if audio is None or sidecar is None:
            if all(_settled(f, now, config.orphan_after_s) for f in present):
                missing = "audio file" if audio is None else "JSON sidecar"
                _reject(config, stem, present, f"no {missing} arrived for this recording")
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
            _reject(config, stem, [audio, sidecar], exc.reason)
            result.rejected.append(stem)
            continue
        except TemporaryFailure as exc:
            log.warning("drop folder: %s kept for retry: %s", stem, exc.reason)
            result.waiting += 1
            continue
        except ArchiveError as exc:
            _reject(config, stem, [audio, sidecar], f"archive refused it ({exc.code})")
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
