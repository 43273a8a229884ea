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
from collections.abc import Iterator, Sequence
from typing import Final

from archive.anonymise.recognisers.base import Context, Found

_NINO_RE: Final = re.compile(
    r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][ \t]?\d{2}[ \t]?\d{2}"
    r"[ \t]?\d{2}[ \t]?[A-D]\b")
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


class UkNationalInsurance:
    name = "uk_nino"

    def find(self, context: Context) -> Iterator[Found]:
        words = context.words
        if not (words & _NINO_SUFFIXES and any(len(w) == 2 and w.isdigit() for w in words)) \
                and not any(_NINO_COMPACT_RE.fullmatch(w) for w in words if len(w) == 9):
            return
        for m in _NINO_RE.finditer(context.text):
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
            yield from self._before_postcodes(text)
        yield from self._streets(context)

    def _before_postcodes(self, text: str) -> Iterator[Found]:
        for postcode in _POSTCODE_RE.finditer(text):
            m = _BEFORE_POSTCODE_RE.search(text, max(0, postcode.start() - 120), postcode.start())
            if m is not None:
                yield Found(m.start(), len(text[:m.end()].rstrip(" \t,")), "address",
                            absorb=True)

    def _streets(self, context: Context) -> Iterator[Found]:
        text, words = context.text, context.words
        patterns = []
        if any(w.endswith(_NL_SUFFIXES) for w in words):
            patterns.append(_MULTIWORD_RE)
        if words & {"flat", "apartment", "apt", "unit"}:
            patterns.append(_FLAT_RE)
        if words & {"grove", "row", "mews", "hill", "square", "walk", "park", "rise", "parade",
                    "green"}:
            patterns.append(_EN_TYPES_RE)
        for pattern in patterns:
            for m in pattern.finditer(text):
                yield Found(m.start(), len(text[:m.end()].rstrip(" \t,")), "address",
                            absorb=True)
        if not words & {"bus", "boîte", "bte", "box"}:
            return
        for m in _BOX_RE.finditer(text):
            # "88 boîte 4": only right after an address found already
            if any(e == m.start() or text[e:m.start()].strip(" \t,") == ""
                   for _, e, c in context.taken if c == "address"):
                yield Found(m.start() + len(m.group()) - len(m.group().lstrip(" \t,")),
                            m.end(), "address")


class WholeEmails:
    name = "whole_emails"

    def find(self, context: Context) -> Iterator[Found]:
        if "@" not in context.text:
            return
        taken = context.taken  # sorted and disjoint
        starts = [s for s, _, _ in taken]
        for m in _EMAIL_RE.finditer(context.text):
            # a party's own address keeps its pseudonym ([CUSTOMER-1])
            at = bisect.bisect_right(starts, m.start()) - 1
            if at < 0 or taken[at][1] < m.end():
                yield Found(m.start(), m.end(), "email", absorb=True)
