"""``Redactor``: the spans of personal data in a text, each with its token and category."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from archive.anonymise.categories import BIRTH_CUE_RE, CATEGORY_OF_TOKEN, party_category
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

        def add(start: int, end: int, token: str | None, category: str | None = None) -> None:
            if not token or end <= start:
                return
            if any(ks < end and start < ke for ks, ke in kept):
                return
            at = bisect.bisect_left(starts, start)
            if (at and taken[at - 1].end > start) or (at < len(taken) and taken[at].start < end):
                return
            if category is None:
                category = CATEGORY_OF_TOKEN.get(token) or party_category(text[start:end])
            if category == "date" and BIRTH_CUE_RE.search(text, max(0, start - 40), start):
                category = "date_of_birth"
            taken.insert(at, Span(start, end, token, category))
            starts.insert(at, start)

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

