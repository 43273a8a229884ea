"""One item of a training set as the trainer gets it: the anonymised view, pseudonymised.

What is redacted comes from ``archive.anonymise.AnonymisedView`` alone (its
``Redactor.spans`` for text, its redacted transcript words for calls); this
module only replaces each redacted span with the set's name for it
(``archive.training.pseudonyms``). So a training set can never show what the
view withholds, and the bleeped audio (the view's bleep spans) covers exactly
the words the transcript pseudonymises.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from archive.anonymise import AnonymisedView
from archive.errors import ErrorCode, InvalidRequest
from archive.model import Channel, ItemRecord, Party
from archive.training.pseudonyms import SetPseudonyms, category_of, normalise

#: How close a word's start may be to an utterance's edges and still belong to it (s).
EDGE_S: Final = 1e-6
MIN_PHONE_DIGITS: Final = 6


@dataclass(slots=True)
class Rendered:
    """An item of a set: its pseudonym, its pseudonymised text, what was redacted."""

    pseudo_id: str
    item_id: str
    channel: Channel
    language: str | None
    date: str
    title: str
    #: The e-mail's subject and body, or the call's transcript as plain text.
    text: str
    transcript: dict[str, Any] | None = None
    duration_s: float | None = None
    #: Redacted spans per category (``EMAIL``, ``CUSTOMER``, ``PHONE``, ...).
    redactions: Counter[str] = field(default_factory=Counter)
    #: The set's names of the people and values that occur in this item.
    pseudonyms: set[str] = field(default_factory=set)


class ItemRenderer:
    """Renders the items of one set with its pseudonyms (the set's parties added first)."""

    def __init__(self, pseudonyms: SetPseudonyms) -> None:
        self.pseudonyms = pseudonyms
        #: The parties of the item being rendered.
        self._parties: Sequence[Party] = ()

    def _name(self, token: str, category: str | None, original: str,
              party_values: Mapping[str, str], language: str | None,
              out: Rendered) -> str:
        kind = category_of(token, category)
        out.redactions[kind] += 1
        person = party_values.get(normalise(original))
        if person is not None:
            if "@" in original:
                name = self.pseudonyms.person(person, language, as_email=True)
            elif sum(c.isdigit() for c in original) >= MIN_PHONE_DIGITS:
                name = self.pseudonyms.value("PHONE", original, language)
            else:
                name = self.pseudonyms.person(person, language,
                                              form=_name_part(original, self._parties))
        else:
            name = self.pseudonyms.value(kind, original, language)
        out.pseudonyms.add(name)
        return self.pseudonyms.render(name)

    def _text(self, view: AnonymisedView, text: str, party_values: Mapping[str, str],
              language: str | None, out: Rendered) -> str:
        parts, pos = [], 0
        for span in view.redactor.spans(text):
            parts += [text[pos:span.start],
                      self._name(span.token, getattr(span, "category", None),
                                 text[span.start:span.end], party_values, language, out)]
            pos = span.end
        parts.append(text[pos:])
        return "".join(parts)

    def email(self, record: ItemRecord, pseudo_id: str,
              index_part: Mapping[str, Any]) -> Rendered:
        view = AnonymisedView(record.parties, record.language)
        self._parties = record.parties
        raw = "\n\n".join(str(s["text"]) for s in index_part["sections"]
                          if s["kind"] in ("subject", "body"))
        if view.text(raw) != view.email_text(index_part):
            # Fail closed: what is shown must be exactly what the view redacts.
            raise InvalidRequest(f"item {pseudo_id}: its text does not match the anonymised "
                                 "view", code=ErrorCode.INTEGRITY)
        out = _start(record, pseudo_id)
        values = self.pseudonyms.party_values(record.parties)
        out.text = self._text(view, raw, values, record.language, out)
        out.title = out.text.split("\n", 1)[0] or "(no subject)"
        return out

    def call(self, record: ItemRecord, pseudo_id: str,
             transcript: Mapping[str, Any]) -> Rendered:
        view = AnonymisedView(record.parties, record.language)
        self._parties = record.parties
        values = self.pseudonyms.party_values(record.parties)
        out = _start(record, pseudo_id)
        redacted = view.transcript(transcript)
        speakers = []
        for original, shown in zip(transcript.get("speakers", []), redacted["speakers"],
                                   strict=True):
            words = self._words(original.get("words", []), shown["words"], values,
                                record.language, out)
            utterances = []
            for u_orig, u_shown in zip(original.get("utterances", []), shown["utterances"],
                                       strict=True):
                inside = [str(w["word"]) for w in words
                          if float(u_shown["start"]) - EDGE_S <= float(w["start"])
                          <= float(u_shown["end"])]
                text = (" ".join(inside) if inside else
                        self._text(view, str(u_orig.get("text", "")), values, record.language,
                                   out))
                utterances.append({**u_shown, "text": text})
            speakers.append({**shown, "words": words, "utterances": utterances})
        out.transcript = {**redacted, "speakers": speakers}
        out.text = transcript_text(out.transcript)
        out.duration_s = _duration(record)
        out.title = f"Call, {out.date}" + (f", {_clock(out.duration_s)}" if out.duration_s
                                           else "")
        return out

    def _words(self, original: Sequence[Mapping[str, Any]], shown: Sequence[Mapping[str, Any]],
               values: Mapping[str, str], language: str | None,
               out: Rendered) -> list[dict[str, Any]]:
        words = []
        for word in shown:
            if not word.get("redacted"):
                words.append(dict(word))
                continue
            said = " ".join(str(o["word"]) for o in original
                            if float(word["start"]) - EDGE_S <= float(o["start"])
                            and float(o["end"]) <= float(word["end"]) + EDGE_S)
            words.append({**word, "word": self._name(str(word["word"]), None, said, values,
                                                     language, out)})
        return words


def _name_part(said: str, parties: Sequence[Party]) -> str:
    """Whether a party's name was said whole, or only its first name or surname."""
    if len(said.split()) > 1:
        return "full"
    for party in parties:
        words = (party.name or "").split()
        if len(words) > 1 and normalise(said) == normalise(words[0]):
            return "first"
    return "last"


def transcript_text(transcript: Mapping[str, Any]) -> str:
    """The utterances of every speaker in time order, one line each."""
    lines = sorted(
        (float(u["start"]), str(s.get("label", "speaker")), str(u["text"]))
        for s in transcript.get("speakers", []) for u in s.get("utterances", []))
    return "\n".join(f"[{_clock(at)}] {who}: {text}" for at, who, text in lines)


def _start(record: ItemRecord, pseudo_id: str) -> Rendered:
    return Rendered(pseudo_id=pseudo_id, item_id=record.id, channel=record.channel,
                    language=record.language, date=record.started_at.date().isoformat(),
                    title="", text="")


def _duration(record: ItemRecord) -> float | None:
    if record.ended_at is None:
        return None
    return max(0.0, (record.ended_at - record.started_at).total_seconds())


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"
