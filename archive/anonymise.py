"""The anonymised view of an item: everything a trainer sees of it comes from here.

``AnonymisedView`` is the one object that turns an item into what an anonymised
purpose (training) may show: the e-mail text, the transcript (utterances AND
words, so the two cannot disagree), the bleep spans of the audio (the times of
exactly the redacted words), search snippets and titles, the details (attachment
names included), rectification notes and the parties. Reading, search, the item
schema and the index's redacted copy (``archive.indexing``) all call it, so no
endpoint can show what another withholds.

Redaction finds spans in the original text, first the item's own parties (the
same person gets the same token within an item, ``[CUSTOMER-1]``, so a trainer
can still follow who said what), then structured identifiers: e-mail addresses,
IBANs, street addresses, postcodes, dates, national numbers (validated with
python-stdnum), phone numbers, numbers spoken as words ("zes twee drie ...",
"six two three ...", which digit patterns alone miss), and names after a title
or an introduction ("mevrouw De Vries", "my name is ..."). Names of third parties
written without such a cue are not found: their recall is measured by
``bench/bench_anonymise.py``.
"""

from __future__ import annotations

import bisect
import functools
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final

from stdnum.be import nn as be_nn
from stdnum.fr import nir as fr_nir
from stdnum.nl import bsn as nl_bsn

from archive.index.query import mark_words
from archive.model import Party, Section, Side
from archive.redaction_scan import TextScan

_MONTHS: Final = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|"
    "december|janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|"
    "octobre|novembre|décembre|decembre|january|february|march|may|june|july|august|"
    "october|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_NUMBER_WORDS: Final = (
    "zero|oh|one|two|three|four|five|six|seven|eight|nine|"
    "nul|een|één|twee|drie|vier|vijf|zes|zeven|acht|negen|"
    "zéro|un|deux|trois|quatre|cinq|sept|huit|neuf"
)
#: Number words beyond single digits (teens, tens, ordinals), for dates said aloud.
_SPOKEN_NUMBER: Final = (
    rf"(?:{_NUMBER_WORDS}|ten|eleven|twelve|\w+teen|\w*ty(?:-\w+)?|hundred|thousand|first|"
    r"second|third|\w+th|tien|elf|twaalf|\w+tien|\w*(?:twintig|dertig|veertig|vijftig|"
    r"zestig|zeventig|tachtig|negentig)|honderd|duizend|eerste|\w+de|dix(?:-\w+)?|onze|"
    r"douze|treize|quatorze|quinze|seize|vingt(?:-\w+)?|trente(?:-\w+)?|quarante(?:-\w+)?|"
    r"cinquante(?:-\w+)?|soixante(?:-\w+)?|quatre-vingts?(?:-\w+)?|cent|mille|premier)"
)
_CAP: Final = "[A-ZÀ-Ý][\\w'\u2019-]*"
_PARTICLES: Final = r"(?:van|de|der|den|ter|ten|le|la|du|des|d'|l'|von)"
_NAME: Final = rf"(?:{_CAP}|{_PARTICLES})(?:[ \t]+(?:{_CAP}|{_PARTICLES})){{0,3}}(?<![ \t])"
_POSTCODE: Final = (
    r"(?:\d{4}[ \t]?[A-Z]{2}(?![\w])|(?:B-|F-|L-)?\d{4,5}(?:[ \t]+" + _CAP + r")+"
    r"|[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}\b)"
)
_STREET_NL: Final = (
    r"\b" + _CAP + r"(?:straat|laan|weg|plein|gracht|dijk|kade|singel|steenweg|dreef|"
    r"pad|hof|markt|lei|baan|steeg|park|veld)[ \t]+\d{1,4}(?:[ \t]?[a-zA-Z]\b|-\d+)?"
)
_STREET_FR: Final = (
    r"(?:\b\d{1,4}(?:[ \t]?(?:bis|ter))?,?[ \t]+)?\b(?i:rue|avenue|boulevard|bd|chemin|place|"
    r"allée|impasse|quai|route|chaussée)[ \t]+(?:(?:de|du|des|la|le)[ \t]+|l'|d')*"
    + _CAP + r"(?:[ \t]+" + _CAP + r")*(?:[ \t]+\d{1,4}(?![\w]))?"
)
_STREET_EN: Final = (
    r"\b\d{1,5}[ \t]+(?:" + _CAP + r"[ \t]+){1,3}(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|"
    r"Lane|Drive|Close|Way|Court|Place|Gardens|Terrace|Crescent)"
)
_ADDRESS_RE: Final = re.compile(
    rf"(?:{_STREET_NL}|{_STREET_FR}|{_STREET_EN})(?:,?[ \t]+{_POSTCODE})?"
)
#: Starts only where an address can start, so a long run without "@" is scanned once,
#: not once per character (a 300 KB line of text must not take minutes).
_EMAIL_RE: Final = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(\.[\w\-]+)+", re.UNICODE)
_IBAN_RE: Final = re.compile(
    r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
_DATE_RE: Final = re.compile(
    rf"\b(?:\d{{1,2}}[-/.]\d{{1,2}}[-/.](?:19|20)?\d{{2}}|(?:19|20)\d{{2}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}(?:er|st|nd|rd|th)?[ \t]+(?:{_MONTHS})\.?[ \t]+(?:19|20)\d{{2}}"
    rf"|(?:{_MONTHS})[ \t]+\d{{1,2}},?[ \t]+(?:19|20)\d{{2}})\b", re.IGNORECASE)
_SPOKEN_DATE_RE: Final = re.compile(
    rf"\b(?:(?:{_SPOKEN_NUMBER})[\s-]+){{1,3}}(?:{_MONTHS})\b(?:[\s-]+(?:{_SPOKEN_NUMBER})\b){{0,6}}"
    rf"|\b(?:{_MONTHS})(?:[\s-]+(?:{_SPOKEN_NUMBER})\b){{1,4}}", re.IGNORECASE)
_POSTCODE_RE: Final = re.compile(r"(?<![\w-])" + _POSTCODE)
_PHONE_RE: Final = re.compile(r"(?<![\w])\+?\d[\d\s().\-/]{5,}\d(?![\w])")
_SPOKEN_RE: Final = re.compile(
    rf"\b(?:(?:{_NUMBER_WORDS})[\s,\-]+){{2,}}(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_TITLED_NAME_RE: Final = re.compile(
    r"\b(?i:meneer|mevrouw|mevr\.|dhr\.|mw\.|heer|mr\.?|mrs\.?|ms\.?|miss|monsieur|madame|"
    r"mme\.?|mlle\.?|m\.|dr\.?|my name is|mijn naam is|ik ben|je m'appelle|je suis|"
    r"this is|namens|de la part de|on behalf of|buurman|buurvrouw|partner|echtgeno(?:o|te)|"
    r"broer|zus|moeder|vader|zoon|dochter|neighbou?r|husband|wife|sister|brother|mother|"
    r"father|son|daughter|mari|femme|mère|père|frère|sœur|voisine?|fils|fille)"
    r"[ \t]+(" + _NAME + ")")
_SIGNED_NAME_RE: Final = re.compile(
    r"(?i:groet(?:en)?|regards|cordialement|salutations|bien à vous|sincerely|"
    r"groetjes),?[ \t]*\n[ \t]*(" + _NAME + ")")
_MARK_TAG_RE: Final = re.compile(r"</?mark>")
_DIGIT_RE: Final = re.compile(r"\d")


def _iban(match: str) -> str | None:
    """An IBAN in any case; a word that merely starts like one has too few digits."""
    return "[IBAN]" if sum(c.isdigit() for c in match) >= 8 else None


def _national(match: str) -> str | None:
    """A national number (BSN, Belgian national number, French NIR), validated with
    python-stdnum so that a date or a phone number is not mistaken for one."""
    digits = "".join(c for c in match if c.isdigit())
    if not 8 <= len(digits) <= 15:  # BSN 9 (or 8), Belgian 11, NIR 15
        return None
    return "[ID]" if _valid_national(digits) else None


@functools.lru_cache(maxsize=4096)
def _valid_national(digits: str) -> bool:
    """Cached: the same number recurs in a thread, and validating costs three checksums."""
    return any(m.is_valid(digits) for m in (nl_bsn, be_nn, fr_nir))


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    token: str


#: What is redacted, in order of precedence (earlier wins where spans overlap).
_PATTERNS: Final[tuple[tuple[re.Pattern[str], str | Callable[[str], str | None]], ...]] = (
    (_EMAIL_RE, "[EMAIL]"),
    (_IBAN_RE, _iban),
    (_ADDRESS_RE, "[ADDRESS]"),
    (_PHONE_RE, _national),
    (_DATE_RE, "[DATE]"),
    (_SPOKEN_DATE_RE, "[DATE]"),
    (_POSTCODE_RE, "[POSTCODE]"),
    (_PHONE_RE, "[PHONE]"),
    (_SPOKEN_RE, "[NUMBER]"),
)


_WORD_RE: Final = re.compile(r"\w+")
_MONTH_WORDS: Final = frozenset(_MONTHS.split("|"))
_DIGIT_WORDS: Final = frozenset(_NUMBER_WORDS.split("|"))


def _cannot_match(pattern: re.Pattern[str], words: list[str]) -> bool:
    """A cheap, conservative test on the text's words: True only when ``pattern``
    cannot match (a spoken date needs a month name as a whole word; spoken digits need
    three number words). Used where a text is scanned in full (see ``Redactor.spans``);
    elsewhere ``_STARTS`` already finds nothing for these two."""
    if pattern is _SPOKEN_DATE_RE:
        return not any(w in _MONTH_WORDS for w in words)
    if pattern is _SPOKEN_RE:
        return sum(w in _DIGIT_WORDS for w in words) < 3
    return False


#: Where each pattern can start (``archive.redaction_scan`` says why each is complete).
_STARTS: Final[dict[re.Pattern[str], Callable[[TextScan], list[int]]]] = {
    _EMAIL_RE: TextScan.email_starts,
    _IBAN_RE: TextScan.iban_starts,
    _ADDRESS_RE: TextScan.address_starts,
    _PHONE_RE: TextScan.phone_starts,
    _DATE_RE: lambda scan: scan.date_starts(_MONTH_WORDS),
    _SPOKEN_DATE_RE: lambda scan: scan.spoken_date_starts(_MONTH_WORDS),
    _POSTCODE_RE: TextScan.postcode_starts,
    _SPOKEN_RE: lambda scan: scan.spoken_number_starts(_DIGIT_WORDS),
    _TITLED_NAME_RE: TextScan.title_starts,
    _SIGNED_NAME_RE: TextScan.sign_off_starts,
}


def _literal_starts(pattern: re.Pattern[str], scan: TextScan) -> list[int] | None:
    """Where a party's (or a kept) written form occurs, or None when ``pattern`` is not
    the case-insensitive whole-word literal ``Redactor`` builds (then: scan it all)."""
    body = pattern.pattern.removeprefix(r"(?<!\w)").removesuffix(r"(?!\w)")
    value = re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)
    if (not value or re.escape(value) != body or not pattern.flags & re.IGNORECASE
            or pattern.pattern != rf"(?<!\w){body}(?!\w)" or not scan.literal_case_exact(value)):
        return None
    return scan.find([value.lower()])


def _found(pattern: re.Pattern[str], scan: TextScan,
           starts: list[int] | None) -> list[re.Match[str]]:
    if starts is None:
        return list(pattern.finditer(scan.text))
    return list(scan.matches(pattern, starts))


def looks_identifying(text: str) -> bool:
    """Whether a query names a person: an e-mail address, a phone number, an IBAN."""
    return bool(_EMAIL_RE.search(text) or _PHONE_RE.search(text) or _IBAN_RE.search(text)
                or sum(c.isdigit() for c in text) >= 6)


class Redactor:
    """Finds what is personal data in a text; ``AnonymisedView`` decides what to show."""

    def __init__(self, replacements: list[tuple[re.Pattern[str], str]],
                 keep: Iterable[str] = ()) -> None:
        self._replacements = replacements
        #: Written forms never redacted (a data subject's own identifiers in their copy).
        self._keep = [re.compile(rf"(?<!\w){re.escape(k)}(?!\w)", re.IGNORECASE)
                      for k in sorted({k for k in keep if k.strip()}, key=len, reverse=True)]

    def keeping(self, values: Iterable[str]) -> Redactor:
        """The same redactor, but leaving these written forms alone (Art. 15(4): the
        requester's copy of another person's message keeps what identifies the requester)."""
        return Redactor(self._replacements, keep=values)

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

    def spans(self, text: str) -> list[Span]:
        """Non-overlapping spans of personal data in ``text``, in order.

        Each pattern is tried only where ``archive.redaction_scan`` finds it can start,
        which gives what scanning the whole text gives at a fraction of the cost (a
        64 KiB e-mail is redacted on the indexing path of every message)."""
        taken: list[Span] = []  # sorted and disjoint, so neighbours decide overlaps
        starts: list[int] = []
        kept = [(m.start(), m.end()) for k in self._keep for m in k.finditer(text)]

        def add(start: int, end: int, token: str | None) -> None:
            if not token or end <= start:
                return
            if any(ks < end and start < ke for ks, ke in kept):
                return
            at = bisect.bisect_left(starts, start)
            if (at and taken[at - 1].end > start) or (at < len(taken) and taken[at].start < end):
                return
            taken.insert(at, Span(start, end, token))
            starts.insert(at, start)

        scan = TextScan(text)
        # Where the lowercased text could hide a case-insensitive match from str.find
        # (Turkish dotless i, long s, Greek), every pattern scans the whole text.
        exact = scan.exact_case
        for pattern, token in self._replacements:
            for m in _found(pattern, scan, _literal_starts(pattern, scan) if exact else None):
                add(m.start(), m.end(), token)
        words = [] if exact else [w.casefold() for w in _WORD_RE.findall(text)]
        found: dict[re.Pattern[str], list[re.Match[str]]] = {}
        for pattern, make in _PATTERNS:
            if not exact and _cannot_match(pattern, words):
                continue
            if pattern not in found:  # the phone pattern serves twice
                found[pattern] = _found(pattern, scan, _STARTS[pattern](scan) if exact else None)
            for m in found[pattern]:
                add(m.start(), m.end(), make if isinstance(make, str) else make(m.group()))
        for pattern in (_TITLED_NAME_RE, _SIGNED_NAME_RE):
            for m in _found(pattern, scan, _STARTS[pattern](scan) if exact else None):
                # "Mrs Emily Wright", where Wright is a party: the name up to the party
                # (spans are sorted and disjoint: the first one starting inside the name).
                at = bisect.bisect_right(starts, m.start(1))
                end = min(taken[at].start, m.end(1)) if at < len(taken) else m.end(1)
                add(m.start(1), m.start(1) + len(text[m.start(1):end].rstrip()), "[NAME]")
        return taken

    def redact(self, text: str) -> str:
        out, pos = [], 0
        for span in self.spans(text):
            out += [text[pos:span.start], span.token]
            pos = span.end
        out.append(text[pos:])
        return "".join(out)

    def redact_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.redact_json(v) for k, v in value.items()}
        return value


#: Details a trainer never needs and that identify people or threads.
WITHHELD_DETAILS: Final = frozenset({"headers", "message_id", "in_reply_to", "references",
                                     "address_errors", "call_id", "session_id",
                                     "sip_headers"})
#: Section kinds that never enter the anonymised copy (names and addresses by design).
WITHHELD_SECTIONS: Final = frozenset({"parties"})


class AnonymisedView:
    """The anonymised form of one item's every representation."""

    def __init__(self, parties: Sequence[Party]) -> None:
        self._parties = list(parties)
        self.redactor = Redactor.for_parties(self._parties)

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
        plain = html.unescape(_MARK_TAG_RE.sub("", snippet))
        return mark_words(self.text(plain), phrases)

    def sections(self, sections: Iterable[Section]) -> tuple[Section, ...]:
        """The redacted copy of an item's text that anonymised search matches."""
        return tuple(Section(s.kind, self.text(s.text), s.speaker, s.start_s)
                     for s in sections if s.kind not in WITHHELD_SECTIONS)

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
        if span is None and _DIGIT_RE.search(str(words[i]["word"])):
            span = Span(start, end, "[NUMBER]")
        if span is None:
            out.append(dict(words[i]))
            i += 1
            continue
        j = i
        while j + 1 < len(words) and offsets[j + 1][0] < span.end:
            j += 1
        out.append({"word": span.token, "start": words[i]["start"], "end": words[j]["end"],
                    "conf": min(float(w.get("conf", 1.0)) for w in words[i:j + 1]),
                    "redacted": True})
        i = j + 1
    return out


# -- audio ------------------------------------------------------------------------

BLEEP_HZ: Final = 1000.0
BLEEP_AMPLITUDE: Final = 3000
BLEEP_PAD_S: Final = 0.08


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
