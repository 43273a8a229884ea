"""Finding a vosk model: a configured directory, or an installed ``vosk-model-*`` package.

Nothing is downloaded at run time, and nothing here imports vosk: discovery only
reads directories and distribution metadata, so ``serve`` can look again every
minute for a model installed meanwhile.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from typing import Final

from ingest.errors import ModelUnavailable

#: Kaldi's default when a model's ``conf/mfcc.conf`` does not name a rate.
DEFAULT_MODEL_SAMPLE_RATE_HZ: Final = 16000

_MODEL_MARKERS: Final = ("am", "conf")
PACKAGE_MODEL_SUBDIR: Final = "model"


def _is_model_dir(path: Path) -> bool:
    return path.is_dir() and all((path / marker).is_dir() for marker in _MODEL_MARKERS)


def model_in(path: Path) -> Path | None:
    """A model directory itself, or a package/unpacked archive holding one in ``model/``."""
    if _is_model_dir(path):
        return path
    inner = path / PACKAGE_MODEL_SUBDIR
    if _is_model_dir(inner):
        return inner
    return None


def installed_model_packages() -> list[str]:
    """Top-level import names of installed ``vosk-model-*`` distributions, sorted.

    Reads distribution metadata only: neither the packages nor vosk are imported.
    """
    names: set[str] = set()
    for dist in importlib.metadata.distributions():
        dist_name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if not dist_name.startswith("vosk-model"):
            continue
        top_level = dist.read_text("top_level.txt")
        if top_level:
            names.update(line.strip() for line in top_level.splitlines() if line.strip())
        else:
            names.add(dist_name.replace("-", "_"))
    return sorted(names)


def find_model(configured: Path | None) -> Path | None:
    """The model directory to use: the configured one, else the first installed package's.

    A configured path that holds no model is an error, not a silent fallback, so a
    typo in settings does not quietly switch languages.
    """
    if configured is not None:
        configured = configured.expanduser()
        if not configured.exists():
            raise ModelUnavailable(configured, reason="does not exist")
        found = model_in(configured)
        if found is None:
            raise ModelUnavailable(
                configured, reason="is not a vosk model directory (no am/, conf/)"
            )
        return found
    importlib.invalidate_caches()  # a package may have been installed since the last look
    for name in installed_model_packages():
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            found = model_in(Path(location))
            if found is not None:
                return found
    return None


def model_sample_rate(model_dir: Path) -> int:
    """The rate the model's features expect, from ``conf/mfcc.conf``."""
    conf = model_dir / "conf" / "mfcc.conf"
    try:
        lines = conf.read_text(encoding="utf-8").splitlines()
    except OSError:
        return DEFAULT_MODEL_SAMPLE_RATE_HZ
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key == "--sample-frequency":
            try:
                return int(float(value))
            except ValueError:
                break
    return DEFAULT_MODEL_SAMPLE_RATE_HZ


def model_label(model_dir: Path) -> str:
    """A readable model name: the package or directory it came from."""
    if model_dir.name == PACKAGE_MODEL_SUBDIR:
        return model_dir.parent.name
    return model_dir.name
