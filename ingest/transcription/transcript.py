"""The transcript model: words and phrases per speaker, and how they are indexed and shown.

Speakers are channels (agent and customer each on their own stream), labelled by
their side, never by an address; a transcript becomes one index section per
phrase, so a search hit names the speaker and the offset. Each phrase keeps its
mean word confidence, and a transcript whose words the model was unsure of is
marked ``low_confidence`` for the people reading it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from archive.model import Party, Section, Side

TRANSCRIPT_FORMAT_VERSION: Final = 1
#: A transcript section (what a search hit points at) ends at a pause this long ...
PHRASE_PAUSE_SECONDS: Final = 0.8
#: ... or once it spans this long.
PHRASE_MAX_SECONDS: Final = 10.0


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class Utterance:
    start: float
    end: float
    text: str
    #: Mean confidence of its words (0..1).
    conf: float = 1.0


@dataclass(slots=True)
class SpeakerTranscript:
    """What one channel (one participant) said."""

    label: str
    channel: int
    words: list[Word] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)


@dataclass(slots=True)
class Transcript:
    speakers: list[SpeakerTranscript]
    duration_s: float
    sample_rate: int
    model: str
    #: The language of the model that made it (``nl``); None: not known.
    language: str | None = None
    #: The mean word confidence was below the configured threshold.
    low_confidence: bool = False

    @property
    def word_count(self) -> int:
        return sum(len(s.words) for s in self.speakers)

    @property
    def confidence(self) -> float:
        """Mean word confidence over every speaker; 0 for a transcript without words."""
        confs = [w.conf for s in self.speakers for w in s.words]
        return sum(confs) / len(confs) if confs else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "version": TRANSCRIPT_FORMAT_VERSION,
            "model": self.model,
            "language": self.language,
            "confidence": round(self.confidence, 3),
            "low_confidence": self.low_confidence,
            "sample_rate": self.sample_rate,
            "duration_s": round(self.duration_s, 3),
            "speakers": [
                {
                    "label": s.label,
                    "channel": s.channel,
                    "words": [
                        {"word": w.word, "start": w.start, "end": w.end, "conf": w.conf}
                        for w in s.words
                    ],
                    "utterances": [
                        {"start": u.start, "end": u.end, "text": u.text, "conf": u.conf}
                        for u in s.utterances
                    ],
                }
                for s in self.speakers
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            speakers=[
                SpeakerTranscript(
                    label=str(s["label"]),
                    channel=int(s["channel"]),
                    words=[
                        Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w["conf"]))
                        for w in s["words"]
                    ],
                    utterances=[
                        Utterance(float(u["start"]), float(u["end"]), str(u["text"]),
                                  float(u.get("conf", 1.0)))
                        for u in s["utterances"]
                    ],
                )
                for s in data["speakers"]
            ],
            duration_s=float(data["duration_s"]),
            sample_rate=int(data["sample_rate"]),
            model=str(data["model"]),
            language=data.get("language"),
            low_confidence=bool(data.get("low_confidence", False)),
        )

    def _timeline(self) -> list[tuple[Utterance, SpeakerTranscript]]:
        pairs = [(u, s) for s in self.speakers for u in s.utterances]
        pairs.sort(key=lambda pair: (pair[0].start, pair[1].channel))
        return pairs

    def to_sections(self) -> list[Section]:
        """One index section per utterance, so a hit names the speaker and the offset."""
        return [
            Section(kind="transcript", text=u.text, speaker=s.label, start_s=u.start)
            for u, s in self._timeline()
        ]

    def to_text(self) -> str:
        """The conversation in time order, one line per utterance, for exports."""
        lines = [f"[{_clock(u.start)}] {s.label}: {u.text}" for u, s in self._timeline()]
        return "\n".join(lines) + ("\n" if lines else "")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:04.1f}"
    return f"{minutes:02d}:{secs:04.1f}"


def speaker_labels(parties: Sequence[Party], n_channels: int) -> list[str]:
    """Channel labels from the parties' channel map: ``agent`` / ``customer``.

    Uses the side (never an address, which would put personal data in labels);
    duplicates get a number, unmapped channels are ``channel N``.
    """
    labels = [f"channel {ch}" for ch in range(n_channels)]
    for party in parties:
        ch = party.channel_index
        if ch is not None and 0 <= ch < n_channels and party.side is not Side.UNKNOWN:
            labels[ch] = party.side.value
    seen: dict[str, int] = {}
    for ch, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[ch] = f"{label} {seen[label]}"
    return labels


def default_labels(n_channels: int) -> list[str]:
    return ["speaker"] if n_channels == 1 else [f"channel {ch}" for ch in range(n_channels)]


def phrases(words: Sequence[Word]) -> list[Utterance]:
    """Split a recogniser result into phrases at pauses and at a maximum length.

    vosk ends a result only at its endpoint silence, so a customer talking for a
    minute is one result; a search hit should point within seconds of the words.
    """
    out: list[Utterance] = []
    group: list[Word] = []
    for word in words:
        if group and (
            word.start - group[-1].end >= PHRASE_PAUSE_SECONDS
            or word.end - group[0].start > PHRASE_MAX_SECONDS
        ):
            out.append(_utterance(group))
            group = []
        group.append(word)
    if group:
        out.append(_utterance(group))
    return out


def _utterance(words: Sequence[Word]) -> Utterance:
    return Utterance(
        start=words[0].start,
        end=words[-1].end,
        text=" ".join(w.word for w in words),
        conf=round(sum(w.conf for w in words) / len(words), 3),
    )

