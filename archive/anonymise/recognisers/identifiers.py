"""Written identifiers the patterns do not cover, and addresses written without a
street suffix.

- ``UkNationalInsurance``: "JT 48 29 17 B" (two prefix letters from the allowed
  set, six digits, a suffix A-D), which no checksum validates.
- ``CustomerNumbers``: the operator's own customer and contract number formats,
  configured as regular expressions (``settings.anonymise.customer_numbers``).
- ``PostcodeAddresses``: a street and house number right before a postcode
  ("Meir 78, 2000 Antwerpen", "De Kiekendief 4, 9251 GP Burgum"), street names of
  several words ("Burgemeester Jansenlaan 30", "Lange Nieuwstraat 5"), a flat or
  box ("Flat 3, 27 Harbour Way", "avenue de Tervueren 88 boîte 4").
- ``WholeEmails``: an e-mail address absorbs a party's name found inside it, so
  the whole address is redacted ("o.masson@dupont-fils.be").
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

from archive.anonymise.recognisers.base import Context, Found, stripped_end

_NINO_RE: Final = re.compile(
    r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][ \t]?\d{2}[ \t]?\d{2}"
    r"[ \t]?\d{2}[ \t]?[A-D]\b")
_NINO_BEFORE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ \t")
_NINO_SUFFIXES: Final = frozenset("abcd")
_NINO_COMPACT_RE: Final = re.compile(r"[a-z]{2}\d{6}[a-d]")
_CAP: Final = r"[A-ZÀ-Ý][\w'\u2019-]*"
_LINK: Final = r"(?:van|de|der|den|ter|ten|het|la|le|du|des|d'|l'|aan|op|in|'t)"
_HOUSE: Final = r"\d{1,4}(?:[ \t]?[a-zA-Z]\b|-\d{1,4}|[ \t]bis)?"
_POSTCODE: Final = (r"(?:\d{4}[ \t]?[A-Z]{2}\b|(?:[BLF]-)?\d{4,5}[ \t]+[A-ZÀ-Ý]|"
                    r"[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}\b)")
_POSTCODE_RE: Final = re.compile(rf"(?<![\w-]){_POSTCODE}")
#: A word that a postcode starts with: 4-5 digits ("1234AB" whole), or a UK outward code.
_POSTCODE_WORD_RE: Final = re.compile(r"\d{4,5}|\d{4}[a-z]{2}|[a-z]{1,2}\d[a-z\d]?")
#: The street and number ending right before a postcode, matched backwards from it.
_BEFORE_POSTCODE_RE: Final = re.compile(
    rf"\b{_CAP}(?:[ \t]+(?:{_CAP}|{_LINK})){{0,3}}[ \t]+{_HOUSE},?[ \t]+$")
_NL_SUFFIXES: Final = ("straat", "laan", "weg", "plein", "gracht", "dijk", "kade", "singel",
                       "steenweg", "dreef", "markt", "lei", "baan", "steeg", "veld",
                       "plantsoen", "wal")
_MULTIWORD_RE: Final = re.compile(
    rf"\b(?:{_CAP}[ \t]+){{1,2}}{_CAP}(?:straat|laan|weg|plein|gracht|dijk|kade|singel|"
    rf"steenweg|dreef|markt|lei|baan|steeg|veld|plantsoen|wal)[ \t]+{_HOUSE}")
_FLAT_RE: Final = re.compile(
    r"\b(?i:flat|apartment|apt\.?|unit)[ \t]+\d{1,4}[a-zA-Z]?,?[ \t]+\d{1,5}[ \t]+"
    rf"(?:{_CAP}[ \t]+){{1,3}}(?:Street|Road|Lane|Avenue|Way|Drive|Close|Court|Place|Grove|"
    r"Row|Mews|Hill|Square|Walk|Gardens|Terrace|Crescent)\b")
_BOX_RE: Final = re.compile(r"[ \t,]+(?i:bus|boîte|bte|box)[ \t]+\d{1,4}[a-zA-Z]?\b")
_EN_TYPES_RE: Final = re.compile(
    rf"\b\d{{1,5}}[ \t]+(?:{_CAP}[ \t]+){{1,3}}(?:Grove|Row|Mews|Hill|Square|Walk|Park|Rise|"
    r"Parade|Green)\b")
_EMAIL_RE: Final = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


def _street_char(char: str) -> bool:
    """A character of a street name of ``_MULTIWORD_RE``: ``[\\w'\u2019-]`` or a blank."""
    return char.isalnum() or char in "_'\u2019- \t"


def _multiword_starts(text: str, digit_runs: Sequence[tuple[int, int]]) -> list[int]:
    """Where ``_MULTIWORD_RE`` can start: a capital in the run of words and blanks that
    ends in a street suffix right before a house number's blanks."""
    out: list[int] = []
    for s, _ in digit_runs:
        if not s or text[s - 1] not in " \t":
            continue
        end = s
        while end and text[end - 1] in " \t":
            end -= 1
        if not text.endswith(_NL_SUFFIXES, 0, end):
            continue
        start = end
        while start and _street_char(text[start - 1]):
            start -= 1
        out += [t for t in range(start, end)
                if "A" <= text[t] <= "Z" or "\xc0" <= text[t] <= "\xdd"]  # [A-ZÀ-Ý]
    return out


class UkNationalInsurance:
    name = "uk_nino"

    def find(self, context: Context) -> Iterator[Found]:
        words = context.words
        if not (words & _NINO_SUFFIXES and any(len(w) == 2 and w.isdigit() for w in words)) \
                and not any(_NINO_COMPACT_RE.fullmatch(w) for w in words if len(w) == 9):
            return
        # two capitals and maybe a blank before the first digits, a run of 2, 4 or 6
        scan, text = context.scan, context.text
        starts = [s - n for s, e in scan.digit_runs
                  if e - s in (2, 4, 6) and s >= 2 and text[s - 1] in _NINO_BEFORE
                  for n in (2, 3)]
        for m in scan.matches(_NINO_RE, starts):
            yield Found(m.start(), m.end(), "national_id", absorb=True)


class CustomerNumbers:
    """Customer and contract numbers in the formats the operator configures."""

    name = "customer_numbers"

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._compiled = [re.compile(rf"(?<![\w-])(?:{p})(?![\w-])", re.IGNORECASE)
                          for p in self.patterns]

    def find(self, context: Context) -> Iterator[Found]:
        for pattern in self._compiled:
            for m in pattern.finditer(context.text):
                yield Found(m.start(), m.end(), "customer_number", absorb=True)


class PostcodeAddresses:
    name = "postcode_addresses"

    def find(self, context: Context) -> Iterator[Found]:
        text, words = context.text, context.words
        if not any(c.isdigit() for c in text):
            return
        if any(_POSTCODE_WORD_RE.fullmatch(w) for w in words):
            yield from self._before_postcodes(context)
        yield from self._streets(context)

    def _before_postcodes(self, context: Context) -> Iterator[Found]:
        # where ``archive.redaction_scan`` says the written patterns' postcode can start:
        # the same three forms (1234 AB, B-1000 Town, SW1A 1AA)
        text, scan = context.text, context.scan
        for postcode in scan.matches(_POSTCODE_RE, scan.postcode_starts()):
            m = _BEFORE_POSTCODE_RE.search(text, max(0, postcode.start() - 120), postcode.start())
            if m is not None:
                yield Found(m.start(), stripped_end(text, m.end(), " \t,"), "address",
                            absorb=True)

    def _streets(self, context: Context) -> Iterator[Found]:
        text, words = context.text, context.words
        scan = context.scan
        # each pattern tried only where it can start: a capital before a street word
        # ending in a suffix before its number, "flat" and its kin, a digit run
        patterns: list[tuple[re.Pattern[str], Callable[[], list[int]]]] = []
        if any(w.endswith(_NL_SUFFIXES) for w in words):
            patterns.append((_MULTIWORD_RE, lambda: _multiword_starts(text, scan.digit_runs)))
        if words & {"flat", "apartment", "apt", "unit"}:
            patterns.append((_FLAT_RE, lambda: scan.find(("flat", "apartment", "apt", "unit"))))
        if words & {"grove", "row", "mews", "hill", "square", "walk", "park", "rise", "parade",
                    "green"}:
            # a number of up to five digits with a blank after it
            patterns.append((_EN_TYPES_RE, lambda: [s for s, e in scan.digit_runs if e - s <= 5
                                                    and text[e:e + 1] in (" ", "\t")]))
        for pattern, starts in patterns:
            exact = scan.exact_case or pattern is not _FLAT_RE
            for m in scan.matches(pattern, starts()) if exact else pattern.finditer(text):
                yield Found(m.start(), stripped_end(text, m.end(), " \t,"), "address",
                            absorb=True)
        if not words & {"bus", "boîte", "bte", "box"}:
            return
        # "88 boîte 4": only right after an address found already, or before the end of
        # one (an address's end is at or after the box, or only blanks and commas lie
        # between them: then between the latest end before the box and the box too)
        ends = sorted(e for _, e, c in context.taken if c == "address")
        for m in _box_matches(context):
            at = bisect.bisect_left(ends, m.start())
            if at < len(ends) or (at and text[ends[at - 1]:m.start()].strip(" \t,") == ""):
                yield Found(m.start() + len(m.group()) - len(m.group().lstrip(" \t,")),
                            m.end(), "address")


def _box_matches(context: Context) -> Iterable[re.Match[str]]:
    """``_BOX_RE.finditer``, tried only in the blanks and commas before "bus", "boîte",
    "bte" or "box" (it starts there), not at every blank of the text."""
    text, scan = context.text, context.scan
    if not scan.exact_case:
        return _BOX_RE.finditer(text)
    starts: list[int] = []
    for word in scan.find(("bus", "bo\u00eete", "bte", "box")):
        first = word
        while first and text[first - 1] in " \t,":
            first -= 1
        starts += range(first, word)
    return scan.matches(_BOX_RE, starts)


class WholeEmails:
    name = "whole_emails"

    def find(self, context: Context) -> Iterator[Found]:
        if "@" not in context.text:
            return
        taken = context.taken  # sorted and disjoint
        starts = [s for s, _, _ in taken]
        scan = context.scan
        for m in scan.matches(_EMAIL_RE, scan.email_starts()):  # at each '@' only
            # a party's own address keeps its pseudonym ([CUSTOMER-1])
            at = bisect.bisect_right(starts, m.start()) - 1
            if at < 0 or taken[at][1] < m.end():
                yield Found(m.start(), m.end(), "email", absorb=True)
