"""Personal data said aloud, as a transcript writes it: numbers and spelled letters
("nul zes twee ...", "k l four four one ...", "b e trente-trois dix-neuf ..."),
dates ("the third of march nineteen ninety", "vingt et un juin quatre-vingt-cinq"),
street addresses ("kastanjelaan vijftien", "douze rue des carmes", "seven church
lane") and e-mail addresses ("jeroen punt bakker at gmail punt com").

The written patterns see digits; a recogniser of speech sees words, so a phone
number, an IBAN, a postcode or a customer number read out is one run of number
words and single letters. A run is personal data when it holds three number words,
or two and a spelled letter ("vijf zes een twee a z"), or a thousand ("six mille",
a Belgian postcode); shorter runs are amounts and times ("zevenentachtig euro").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from archive.anonymise.recognisers.base import Context, Found, Token
from archive.anonymise.recognisers.words import (
    THOUSANDS,
    months,
    ordinals,
    stop_words,
)

#: Joining words inside a run of numbers ("vingt et un", "twenty and one").
_JOINERS: Final = frozenset({"et", "and", "en"})
_EN_STREETS: Final = frozenset(
    ["street", "road", "lane", "avenue", "drive", "close", "way", "court", "place", "gardens",
    "terrace", "crescent", "grove", "row", "mews", "hill", "square", "walk", "park", "rise",
    "parade", "green"])
_FR_STREETS: Final = frozenset(
    ["rue", "avenue", "boulevard", "chemin", "place", "allée", "impasse", "quai", "route",
    "chaussée", "square"])
_NL_SUFFIXES: Final = ("straat", "laan", "weg", "plein", "gracht", "dijk", "kade", "singel",
                       "steenweg", "dreef", "pad", "hof", "markt", "lei", "baan", "steeg",
                       "park", "veld", "plantsoen", "wal")
_FR_LINKS: Final = frozenset({"de", "du", "des", "la", "le", "l", "d"})
_DOT: Final = r"(?:dot|punt|point)"
_AT: Final = ("at", "apenstaartje", "arobase", "arrobase", "at-sign")
#: From the spoken "at" on; the local part before it is found going back.
_SPOKEN_DOMAIN_RE: Final = re.compile(
    rf"(?<!\S)(?:{'|'.join(_AT)})\s+\w+(?:\s+{_DOT}\s+\w+)+\b", re.IGNORECASE)
_LOCAL_PART_RE: Final = re.compile(rf"\w+(?:\s+{_DOT}\s+\w+)*\s+$", re.IGNORECASE)


def _is_letter(token: Token) -> bool:
    return len(token.low) == 1 and token.low.isalpha()


def _runs(context: Context) -> Iterator[tuple[int, int, int, int, bool]]:
    """(first, last) token indexes of each run of number words and letters, with its
    count of number words, of letters, and whether it says a thousand."""
    numeric_words = context.number_words
    if not numeric_words:
        return
    tokens = context.tokens
    i = 0
    while i < len(tokens):
        if not (tokens[i].low in numeric_words or _is_letter(tokens[i])):
            i += 1
            continue
        j, numbers, letters, thousand = i, 0, 0, False
        while j < len(tokens):
            low = tokens[j].low
            if low in numeric_words:
                numbers += 1
                thousand = thousand or low in THOUSANDS
            elif _is_letter(tokens[j]):
                letters += 1
            elif not (low in _JOINERS and j + 1 < len(tokens)
                      and tokens[j + 1].low in numeric_words):
                break
            j += 1
        yield i, j - 1, numbers, letters, thousand
        i = j


class SpokenNumbers:
    """Phone, customer, IBAN, national and postcode numbers read out as words."""

    name = "spoken_numbers"

    def find(self, context: Context) -> Iterator[Found]:
        for first, last, numbers, letters, thousand in _runs(context):
            tokens = context.tokens
            if numbers >= 3 or (numbers >= 2 and (letters or thousand)):
                # A lone letter at either end is an article ("a", "y") more often than
                # a spelled one when the run is long without it.
                while first < last and _is_letter(tokens[first]) and numbers >= 3 and \
                        tokens[first].low in ("a", "y", "o") and letters == 1:
                    first += 1
                # over what the patterns saw of it ("four four one" without the "k l")
                yield Found(tokens[first].start, tokens[last].end, "number_spoken", absorb=True)


class SpokenDates:
    """A date said aloud around a month: "the third of march nineteen ninety",
    "le onze mars mille neuf cent quarante-huit", "drie maart negentienhonderd vijf"."""

    name = "spoken_dates"

    def find(self, context: Context) -> Iterator[Found]:
        language = context.language
        month_words, ordinal_words = months(language), ordinals(language)
        numeric_words = context.number_words
        if not month_words & context.words:
            return
        tokens = context.tokens

        def numeric(low: str) -> bool:
            return low in numeric_words or low in ordinal_words

        for k, token in enumerate(tokens):
            if token.low not in month_words:
                continue
            first = k
            while first > 0 and (numeric(tokens[first - 1].low) or (
                    tokens[first - 1].low in ("of", "et", "and") and first > 1
                    and numeric(tokens[first - 2].low))):
                first -= 1
            last = k
            while last + 1 < len(tokens) and (numeric(tokens[last + 1].low) or (
                    tokens[last + 1].low in ("et", "and") and last + 2 < len(tokens)
                    and numeric(tokens[last + 2].low))):
                last += 1
            if first == k and last == k:
                continue  # a month alone ("in maart") is no date of anyone
            if first > 0 and tokens[first - 1].low in ("the", "le", "on") and first < k:
                first -= 1
            yield Found(tokens[first].start, tokens[last].end, "date", absorb=True)


class SpokenAddresses:
    """A street with its number said as words, in any of the three languages' forms."""

    name = "spoken_addresses"

    def find(self, context: Context) -> Iterator[Found]:
        numeric_words = context.number_words
        if not numeric_words:
            return
        tokens, stops = context.tokens, stop_words(context.language)

        def number_run(i: int, step: int) -> int:
            """The index of the last number word of the run from ``i`` (or -1)."""
            j = -1
            while 0 <= i < len(tokens) and tokens[i].low in numeric_words:
                j, i = i, i + step
            return j

        for k, token in enumerate(tokens):
            low = token.low
            if low.endswith(_NL_SUFFIXES) and len(low) > 5:
                end = number_run(k + 1, 1)
                if end >= 0:
                    yield Found(token.start, tokens[end].end, "address")
            elif low in _EN_STREETS and k >= 2:
                # seven church lane: a number, one to three name words, the street type
                for width in (1, 2, 3):
                    at = k - width - 1
                    if at < 0 or any(t.low in stops for t in tokens[at + 1:k]):
                        break
                    if tokens[at].low in numeric_words:
                        first = number_run(at, -1)
                        yield Found(tokens[first].start, token.end, "address")
                        break
            elif low in _FR_STREETS and k + 1 < len(tokens):
                first = number_run(k - 1, -1) if k else -1
                last = k
                while last + 1 < len(tokens) and last - k < 5 and (
                        tokens[last + 1].low in _FR_LINKS or tokens[last + 1].low not in stops):
                    if tokens[last + 1].low in numeric_words and first >= 0:
                        break
                    last += 1
                while last > k and tokens[last].low in _FR_LINKS:
                    last -= 1
                if first >= 0 and last > k:
                    yield Found(tokens[first].start, tokens[last].end, "address")


class SpokenEmails:
    """An e-mail address read out: "m dot hassan at gmail dot com"."""

    name = "spoken_emails"

    def find(self, context: Context) -> Iterator[Found]:
        if not context.words & set(_AT) or not context.words & {"dot", "punt", "point"}:
            return
        text = context.text
        for m in _SPOKEN_DOMAIN_RE.finditer(text):
            local = _LOCAL_PART_RE.search(text, max(0, m.start() - 200), m.start())
            if local is not None:
                yield Found(local.start(), m.end(), "email")
