"""``AnonymisedView``: the anonymised form of every representation of one item."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, Final

from archive.anonymise.patterns import DIGIT_RE, MARK_TAG_RE
from archive.anonymise.redactor import Redactor, Span
from archive.index.query import mark_words
from archive.model import Party, Section
from archive.redaction_scan import TextScan

#: Details a trainer never needs and that identify people or threads.
WITHHELD_DETAILS: Final = frozenset({"headers", "message_id", "in_reply_to", "references",
                                     "address_errors", "call_id", "session_id",
                                     "sip_headers"})
#: Section kinds that never enter the anonymised copy (names and addresses by design).
WITHHELD_SECTIONS: Final = frozenset({"parties"})


class AnonymisedView:
    """The anonymised form of one item's every representation."""

    def __init__(self, parties: Sequence[Party], language: str | None = None) -> None:
        self._parties = list(parties)
        #: The item's language (``archive.language``); None when unknown.
        self.language = language
        self.redactor = Redactor.for_parties(self._parties, language=language)

    def text(self, text: str) -> str:
        return self.redactor.redact(text)

    def email_text(self, index_part: Mapping[str, Any]) -> str:
        """An e-mail's readable text (subject and body) from its sealed index part."""
        return self.text("\n\n".join(s["text"] for s in index_part["sections"]
                                     if s["kind"] in ("subject", "body")))

    def snippet(self, snippet: str, phrases: Sequence[tuple[str, ...]]) -> str:
        """Redact a highlighted, HTML-escaped snippet.

        Highlight marks split addresses and numbers, so they come off first; the
        plain text is redacted, escaped again, and surviving query words re-marked.
        """
        plain = html.unescape(MARK_TAG_RE.sub("", snippet))
        return mark_words(self.text(plain), phrases)

    def sections(self, sections: Iterable[Section],
                 scans: Mapping[int, TextScan] | None = None) -> tuple[Section, ...]:
        """The redacted copy of an item's text that anonymised search matches; ``scans``:
        the scans the caller made of the sections' texts already, by section position."""
        scans = scans or {}
        return tuple(Section(s.kind, self.redactor.redact(s.text, scans.get(i)), s.speaker,
                             s.start_s)
                     for i, s in enumerate(sections) if s.kind not in WITHHELD_SECTIONS)

    def parties(self) -> list[dict[str, Any]]:
        """The parties with addresses and names replaced by their pseudonyms."""
        out = []
        for p in self._parties:
            fields = p.as_dict()
            fields["address"] = self.text(p.address)
            fields["name"] = self.text(p.name) if p.name else None
            out.append(fields)
        return out

    def details(self, details: Mapping[str, Any]) -> dict[str, Any]:
        """Details without headers and message ids; attachment names kept to their type."""
        kept = {k: v for k, v in details.items() if k not in WITHHELD_DETAILS}
        attachments = kept.get("attachments")
        if isinstance(attachments, list):
            kept["attachments"] = [
                {**a, "name": _attachment_name(i, a.get("name"))} if isinstance(a, dict) else a
                for i, a in enumerate(attachments, 1)
            ]
        redacted: dict[str, Any] = self.redactor.redact_json(kept)
        return redacted

    def annotations(self, notes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{**n, "text": self.text(str(n["text"])), "author": "[STAFF]"} for n in notes]

    def transcript(self, transcript: Mapping[str, Any]) -> dict[str, Any]:
        """Words and utterances redacted together: a redacted span's words become one
        word carrying the token, and each utterance is its own (redacted) words."""
        speakers = []
        for speaker in transcript.get("speakers", []):
            words = _redacted_words(self.redactor, speaker.get("words", []))
            utterances = []
            for u in speaker.get("utterances", []):
                inside = [w["word"] for w in words
                          if float(u["start"]) - 1e-6 <= float(w["start"]) <= float(u["end"])]
                text = " ".join(inside) if inside else self.text(str(u.get("text", "")))
                utterances.append({**u, "text": text})
            speakers.append({**speaker, "words": words, "utterances": utterances})
        return {**transcript, "speakers": speakers}

    def bleep_spans(self, transcript: Mapping[str, Any]) -> list[tuple[float, float]]:
        """The times of exactly the words the anonymised transcript redacts."""
        spans = []
        for speaker in transcript.get("speakers", []):
            for word in _redacted_words(self.redactor, speaker.get("words", [])):
                if word.get("redacted"):
                    spans.append((float(word["start"]), float(word["end"])))
        return sorted(spans)


def _attachment_name(index: int, name: object) -> str:
    suffix = PurePosixPath(str(name or "")).suffix.lower()
    return f"attachment-{index}{suffix if suffix.isascii() and len(suffix) <= 6 else ''}"


def _redacted_words(redactor: Redactor, words: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A speaker's words with each redacted span (names, spoken and written numbers, even
    across words) merged into one word that carries the token and ``redacted: true``."""
    text, offsets = "", []
    for w in words:
        if text:
            text += " "
        offsets.append((len(text), len(text) + len(str(w["word"]))))
        text += str(w["word"])
    spans = redactor.spans(text)
    out: list[dict[str, Any]] = []
    i = k = 0
    while i < len(words):
        start, end = offsets[i]
        while k < len(spans) and spans[k].end <= start:
            k += 1
        span = spans[k] if k < len(spans) and spans[k].start < end else None
        if span is None and DIGIT_RE.search(str(words[i]["word"])):
            span = Span(start, end, "[NUMBER]", "number_spoken")
        if span is None:
            out.append(dict(words[i]))
            i += 1
            continue
        j = i
        while j + 1 < len(words) and offsets[j + 1][0] < span.end:
            j += 1
        out.append({"word": span.token, "start": words[i]["start"], "end": words[j]["end"],
                    "conf": min(float(w.get("conf", 1.0)) for w in words[i:j + 1]),
                    "redacted": True, "category": span.category})
        i = j + 1
    return out
