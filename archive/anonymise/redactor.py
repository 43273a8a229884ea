"""``Redactor``: the spans of personal data in a text, each with its token and category."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from archive.anonymise.categories import BIRTH_CUE_RE, CATEGORY_OF_TOKEN, TOKENS, party_category
from archive.anonymise.patterns import (
    PATTERNS,
    SIGNED_NAME_RE,
    STARTS,
    TITLED_NAME_RE,
    WORD_RE,
    cannot_match,
    literal_starts,
    matches_of,
)
from archive.anonymise.recognisers import Context, Recogniser, for_language, propagate
from archive.anonymise.recognisers.names import PARTICLES
from archive.model import Party, Side
from archive.redaction_scan import TextScan


@dataclass(frozen=True, slots=True)
class Span:
    """``text[start:end]`` is personal data of ``category`` (one of ``CATEGORIES``),
    shown as ``token``."""

    start: int
    end: int
    token: str
    category: str



class Redactor:
    """Finds what is personal data in a text; ``AnonymisedView`` decides what to show."""

    def __init__(self, replacements: list[tuple[re.Pattern[str], str]],
                 keep: Iterable[str] = (), recognisers: Sequence[Recogniser] = (),
                 names: frozenset[str] = frozenset(), language: str | None = None) -> None:
        self._replacements = replacements
        #: Run after the written patterns (``archive.anonymise.recognisers``); none:
        #: the patterns alone, as ``tests/archive/test_redaction_equivalence.py`` holds them.
        self._recognisers = tuple(recognisers)
        self._names = names
        self.language = language
        #: Written forms never redacted (a data subject's own identifiers in their copy).
        self._keep = [re.compile(rf"(?<!\w){re.escape(k)}(?!\w)", re.IGNORECASE)
                      for k in sorted({k for k in keep if k.strip()}, key=len, reverse=True)]

    def keeping(self, values: Iterable[str]) -> Redactor:
        """The same redactor, but leaving these written forms alone (Art. 15(4): the
        requester's copy of another person's message keeps what identifies the requester)."""
        return Redactor(self._replacements, keep=values, recognisers=self._recognisers,
                        names=self._names, language=self.language)

    @classmethod
    def for_parties(cls, parties: Iterable[Party], language: str | None = None,
                    recognisers: Sequence[Recogniser] | None = None) -> Redactor:
        """The redactor of an item: its parties' written forms first, then the patterns,
        then the recognisers of its language (``recognisers.for_language``, unless given)."""
        parties = list(parties)
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
                        # Each part of the name, but not a particle alone: "van" and "der"
                        # are everyday words ("afgeschreven van mijn rekening").
                        pairs.extend((part, token) for part in value.split()
                                     if len(part) >= 3 and part.casefold() not in PARTICLES)
        # Longest first, so a full name wins over its parts.
        pairs.sort(key=lambda p: len(p[0]), reverse=True)
        compiled = [
            (re.compile(rf"(?<!\w){re.escape(value)}(?!\w)", re.IGNORECASE), token)
            for value, token in pairs
        ]
        names: set[str] = set()
        for party in parties:
            words = re.findall(r"[^\W\d_]+", (party.name or "").casefold())
            names.update(w for w in words if len(w) >= 3 and w not in PARTICLES)
            names.update("".join(words[i:]) for i in range(len(words) - 1))  # "deboer"
        chosen = for_language(language) if recognisers is None else recognisers
        return cls(compiled, recognisers=chosen, names=frozenset(names), language=language)

    def spans(self, text: str, scan: TextScan | None = None) -> list[Span]:
        """Non-overlapping spans of personal data in ``text``, in order.

        Each pattern is tried only where ``archive.redaction_scan`` finds it can start,
        which gives what scanning the whole text gives at a fraction of the cost (a
        64 KiB e-mail is redacted on the indexing path of every message). ``scan``: the
        text's scan if the caller has made it already (the index document also looks
        for mentions in it)."""
        taken: list[Span] = []  # sorted and disjoint, so neighbours decide overlaps
        starts: list[int] = []
        changes = [0]  # how often ``taken`` changed: a recogniser's context is made anew then
        kept = [(m.start(), m.end()) for k in self._keep for m in k.finditer(text)]

        def add(start: int, end: int, token: str | None, category: str | None = None,
                absorb: bool = False) -> None:
            if not token or end <= start:
                return
            if any(ks < end and start < ke for ks, ke in kept):
                return
            at = bisect.bisect_left(starts, start)
            if absorb:  # the spans it touches give way to one span over them all
                if at and taken[at - 1].end > start:
                    at -= 1
                last = at
                while last < len(taken) and taken[last].start < end:
                    last += 1
                if last > at:
                    start, end = min(start, taken[at].start), max(end, taken[last - 1].end)
                    if any(ks < end and start < ke for ks, ke in kept):
                        return
                del taken[at:last], starts[at:last]
                changes[0] += 1
            if (at and taken[at - 1].end > start) or (at < len(taken) and taken[at].start < end):
                return
            if category is None:
                category = CATEGORY_OF_TOKEN.get(token) or party_category(text[start:end])
            if category == "date" and BIRTH_CUE_RE.search(text, max(0, start - 40), start):
                category = "date_of_birth"
            taken.insert(at, Span(start, end, token, category))
            starts.insert(at, start)
            changes[0] += 1

        if scan is None or scan.text is not text:
            scan = TextScan(text)
        # Where the lowercased text could hide a case-insensitive match from str.find
        # (Turkish dotless i, long s, Greek), every pattern scans the whole text.
        exact = scan.exact_case
        for pattern, token in self._replacements:
            for m in matches_of(pattern, scan, literal_starts(pattern, scan) if exact else None):
                add(m.start(), m.end(), token)
        words = [] if exact else [w.casefold() for w in WORD_RE.findall(text)]
        found: dict[re.Pattern[str], list[re.Match[str]]] = {}
        for pattern, make in PATTERNS:
            if not exact and cannot_match(pattern, words):
                continue
            if pattern not in found:  # the phone pattern serves twice
                found[pattern] = matches_of(pattern, scan, STARTS[pattern](scan) if exact else None)
            for m in found[pattern]:
                add(m.start(), m.end(), make if isinstance(make, str) else make(m.group()))
        for pattern in (TITLED_NAME_RE, SIGNED_NAME_RE):
            for m in matches_of(pattern, scan, STARTS[pattern](scan) if exact else None):
                # "Mrs Emily Wright", where Wright is a party: the name up to the party
                # (spans are sorted and disjoint: the first one starting inside the name).
                at = bisect.bisect_right(starts, m.start(1))
                end = min(taken[at].start, m.end(1)) if at < len(taken) else m.end(1)
                add(m.start(1), m.start(1) + len(text[m.start(1):end].rstrip()), "[NAME]")
        if self._recognisers:
            context = Context(text, self.language, self._names, given_scan=scan)
            seen = -1
            for recogniser in (*self._recognisers, None):
                if seen != changes[0]:
                    context.taken, seen = [(s.start, s.end, s.category) for s in taken], changes[0]
                findings = propagate(context) if recogniser is None else recogniser.find(context)
                for f in findings:
                    if f.absorb:
                        add(f.start, f.end, TOKENS[f.category], f.category, absorb=True)
                        continue
                    # What the spans so far leave of it ("Geoffrey Hughes" where Hughes
                    # is a party: Geoffrey), each piece trimmed of blanks.
                    at = max(0, bisect.bisect_right(starts, f.start) - 1)
                    # Only the spans that start before it matter (a later one ends the
                    # walk as the sentinel does); copied, as ``add`` inserts meanwhile.
                    stop = bisect.bisect_left(starts, f.end, at)
                    pos = f.start
                    for span in [*taken[at:stop], Span(f.end, f.end, "", "")]:
                        if span.start >= f.end and pos >= f.end:
                            break
                        piece = text[pos:min(span.start, f.end)]
                        if span.start > pos and piece.strip():
                            lead = len(piece) - len(piece.lstrip())
                            add(pos + lead, pos + len(piece.rstrip()), TOKENS[f.category],
                                f.category)
                        pos = max(pos, span.end)
                        if pos >= f.end:
                            break
        return taken

    def redact(self, text: str, scan: TextScan | None = None) -> str:
        out, pos = [], 0
        for span in self.spans(text, scan):
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

