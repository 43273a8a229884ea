"""PII redaction for anonymised purposes (training), with consistent pseudonyms.

The same person gets the same token within an item (``[CUSTOMER-1]``), so a
trainer can still follow who said what. Numbers spoken as words ("zero six
one two ...") are caught too, since regex redaction of digits alone misses them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from archive.index.query import mark_words
from archive.model import Party, Side

_EMAIL_RE: Final = re.compile(r"[\w.+\-]+@[\w\-]+(\.[\w\-]+)+", re.UNICODE)
_PHONE_RE: Final = re.compile(r"(?<![\w])\+?\d[\d\s().\-/]{5,}\d(?![\w])")
_IBAN_RE: Final = re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9 ]{10,30}\b")
_NUMBER_WORDS: Final = (
    "zero|oh|one|two|three|four|five|six|seven|eight|nine|"
    "nul|een|één|twee|drie|vier|vijf|zes|zeven|acht|negen"
)
_SPOKEN_RE: Final = re.compile(
    rf"\b(?:(?:{_NUMBER_WORDS})[\s,\-]+){{3,}}(?:{_NUMBER_WORDS})\b", re.IGNORECASE
)


_MARK_TAG_RE: Final = re.compile(r"</?mark>")


def looks_identifying(text: str) -> bool:
    """Whether a query names a person: an e-mail address, a phone number, an IBAN."""
    return bool(_EMAIL_RE.search(text) or _PHONE_RE.search(text) or _IBAN_RE.search(text)
                or sum(c.isdigit() for c in text) >= 6)


class Redactor:
    def __init__(self, replacements: list[tuple[re.Pattern[str], str]]) -> None:
        self._replacements = replacements

    @classmethod
    def for_parties(cls, parties: Iterable[Party]) -> Redactor:
        tokens: dict[str, str] = {}
        counters = {"agent": 0, "customer": 0}
        pairs: list[tuple[str, str]] = []
        for party in parties:
            who = "agent" if party.side is Side.AGENT else "customer"
            key = (party.name or party.address).casefold()
            if key not in tokens:
                counters[who] += 1
                tokens[key] = f"[{who.upper()}-{counters[who]}]"
            token = tokens[key]
            for value in (party.address, party.name):
                if value and len(value) >= 3:
                    pairs.append((value, token))
                    if party.name and value == party.name:
                        pairs.extend((part, token) for part in value.split() if len(part) >= 3)
        # Longest first, so a full name wins over its parts.
        pairs.sort(key=lambda p: len(p[0]), reverse=True)
        compiled = [
            (re.compile(rf"(?<!\w){re.escape(value)}(?!\w)", re.IGNORECASE), token)
            for value, token in pairs
        ]
        return cls(compiled)

    def redact(self, text: str) -> str:
        for pattern, token in self._replacements:
            text = pattern.sub(token, text)
        text = _EMAIL_RE.sub("[EMAIL]", text)
        text = _IBAN_RE.sub("[IBAN]", text)
        text = _PHONE_RE.sub("[PHONE]", text)
        return _SPOKEN_RE.sub("[NUMBER]", text)

    def redact_snippet(self, snippet: str, phrases: Sequence[tuple[str, ...]]) -> str:
        """Redact a highlighted, HTML-escaped snippet.

        Highlight marks split addresses and numbers, so they come off first; the
        plain text is redacted, escaped again, and surviving query words re-marked.
        """
        plain = html.unescape(_MARK_TAG_RE.sub("", snippet))
        return mark_words(self.redact(plain), phrases)

    def redact_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.redact_json(v) for k, v in value.items()}
        return value


# -- audio ------------------------------------------------------------------------

BLEEP_HZ: Final = 1000.0
BLEEP_AMPLITUDE: Final = 3000
BLEEP_PAD_S: Final = 0.08
_NUMBER_WORD_RE: Final = re.compile(rf"^(?:{_NUMBER_WORDS})$", re.IGNORECASE)


def pii_spans(transcript: dict[str, Any], redactor: Redactor) -> list[tuple[float, float]]:
    """Time spans of words that are personal data: names, addresses, numbers, spelled digits.

    A run of three or more number words is treated as a spoken number (a phone
    or customer number); a single "five" is not.
    """
    spans: list[tuple[float, float]] = []
    for speaker in transcript.get("speakers", []):
        words = speaker.get("words", [])
        run: list[dict[str, Any]] = []
        for word in [*words, None]:
            if word is not None and _NUMBER_WORD_RE.match(str(word["word"])):
                run.append(word)
                continue
            if len(run) >= 3:
                spans.append((float(run[0]["start"]), float(run[-1]["end"])))
            run = []
            if word is None:
                break
            text = str(word["word"])
            if any(c.isdigit() for c in text) or redactor.redact(text) != text:
                spans.append((float(word["start"]), float(word["end"])))
    return sorted(spans)


def bleep_wav(wav: bytes, spans: list[tuple[float, float]]) -> bytes:
    """Replace every channel in each span (padded) with a tone; 16-bit PCM WAV only."""
    import io
    import wave

    import numpy as np

    with wave.open(io.BytesIO(wav)) as reader:
        if reader.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM recordings can be bleeped")
        rate, nch = reader.getframerate(), reader.getnchannels()
        frames = reader.readframes(reader.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, nch).copy()
    total = samples.shape[0]
    for start, end in spans:
        lo = max(0, int((start - BLEEP_PAD_S) * rate))
        hi = min(total, int((end + BLEEP_PAD_S) * rate))
        if hi <= lo:
            continue
        t = np.arange(lo, hi) / rate
        tone = (BLEEP_AMPLITUDE * np.sin(2 * np.pi * BLEEP_HZ * t)).astype("<i2")
        samples[lo:hi, :] = tone[:, None]
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(nch)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())
    return out.getvalue()
