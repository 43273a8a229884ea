"""The written patterns of personal data and where each can start.

Regular expressions for e-mail addresses, IBANs, street addresses, postcodes,
dates (written and spoken), national numbers (validated with python-stdnum), phone
numbers, digits spoken as words, and names after a title, an introduction or a
sign-off. ``STARTS`` tells, per pattern, where in a text it can start
(``archive.redaction_scan`` says why each list is complete), so ``Redactor`` runs
each pattern only there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Final

from stdnum.be import nn as be_nn
from stdnum.fr import nir as fr_nir
from stdnum.nl import bsn as nl_bsn

from archive.redaction_scan import TextScan

MONTHS: Final = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|"
    "december|janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|"
    "octobre|novembre|décembre|decembre|january|february|march|may|june|july|august|"
    "october|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
NUMBER_WORDS: Final = (
    "zero|oh|one|two|three|four|five|six|seven|eight|nine|"
    "nul|een|één|twee|drie|vier|vijf|zes|zeven|acht|negen|"
    "zéro|un|deux|trois|quatre|cinq|sept|huit|neuf"
)
#: Number words beyond single digits (teens, tens, ordinals), for dates said aloud.
SPOKEN_NUMBER: Final = (
    rf"(?:{NUMBER_WORDS}|ten|eleven|twelve|\w+teen|\w*ty(?:-\w+)?|hundred|thousand|first|"
    r"second|third|\w+th|tien|elf|twaalf|\w+tien|\w*(?:twintig|dertig|veertig|vijftig|"
    r"zestig|zeventig|tachtig|negentig)|honderd|duizend|eerste|\w+de|dix(?:-\w+)?|onze|"
    r"douze|treize|quatorze|quinze|seize|vingt(?:-\w+)?|trente(?:-\w+)?|quarante(?:-\w+)?|"
    r"cinquante(?:-\w+)?|soixante(?:-\w+)?|quatre-vingts?(?:-\w+)?|cent|mille|premier)"
)
CAP: Final = "[A-ZÀ-Ý][\\w'\u2019-]*"
PARTICLES: Final = r"(?:van|de|der|den|ter|ten|le|la|du|des|d'|l'|von)"
NAME: Final = rf"(?:{CAP}|{PARTICLES})(?:[ \t]+(?:{CAP}|{PARTICLES})){{0,3}}(?<![ \t])"
POSTCODE: Final = (
    r"(?:\d{4}[ \t]?[A-Z]{2}(?![\w])|(?:B-|F-|L-)?\d{4,5}(?:[ \t]+" + CAP + r")+"
    r"|[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}\b)"
)
STREET_NL: Final = (
    r"\b" + CAP + r"(?:straat|laan|weg|plein|gracht|dijk|kade|singel|steenweg|dreef|"
    r"pad|hof|markt|lei|baan|steeg|park|veld)[ \t]+\d{1,4}(?:[ \t]?[a-zA-Z]\b|-\d+)?"
)
STREET_FR: Final = (
    r"(?:\b\d{1,4}(?:[ \t]?(?:bis|ter))?,?[ \t]+)?\b(?i:rue|avenue|boulevard|bd|chemin|place|"
    r"allée|impasse|quai|route|chaussée)[ \t]+(?:(?:de|du|des|la|le)[ \t]+|l'|d')*"
    + CAP + r"(?:[ \t]+" + CAP + r")*(?:[ \t]+\d{1,4}(?![\w]))?"
)
STREET_EN: Final = (
    r"\b\d{1,5}[ \t]+(?:" + CAP + r"[ \t]+){1,3}(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|"
    r"Lane|Drive|Close|Way|Court|Place|Gardens|Terrace|Crescent)"
)
ADDRESS_RE: Final = re.compile(
    rf"(?:{STREET_NL}|{STREET_FR}|{STREET_EN})(?:,?[ \t]+{POSTCODE})?"
)
#: Starts only where an address can start, so a long run without "@" is scanned once,
#: not once per character (a 300 KB line of text must not take minutes).
EMAIL_RE: Final = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(\.[\w\-]+)+", re.UNICODE)
IBAN_RE: Final = re.compile(
    r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
DATE_RE: Final = re.compile(
    rf"\b(?:\d{{1,2}}[-/.]\d{{1,2}}[-/.](?:19|20)?\d{{2}}|(?:19|20)\d{{2}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}(?:er|st|nd|rd|th)?[ \t]+(?:{MONTHS})\.?[ \t]+(?:19|20)\d{{2}}"
    rf"|(?:{MONTHS})[ \t]+\d{{1,2}},?[ \t]+(?:19|20)\d{{2}})\b", re.IGNORECASE)
SPOKEN_DATE_RE: Final = re.compile(
    rf"\b(?:(?:{SPOKEN_NUMBER})[\s-]+){{1,3}}(?:{MONTHS})\b(?:[\s-]+(?:{SPOKEN_NUMBER})\b){{0,6}}"
    rf"|\b(?:{MONTHS})(?:[\s-]+(?:{SPOKEN_NUMBER})\b){{1,4}}", re.IGNORECASE)
POSTCODE_RE: Final = re.compile(r"(?<![\w-])" + POSTCODE)
PHONE_RE: Final = re.compile(r"(?<![\w])\+?\d[\d\s().\-/]{5,}\d(?![\w])")
SPOKEN_RE: Final = re.compile(
    rf"\b(?:(?:{NUMBER_WORDS})[\s,\-]+){{2,}}(?:{NUMBER_WORDS})\b", re.IGNORECASE)
TITLED_NAME_RE: Final = re.compile(
    r"\b(?i:meneer|mevrouw|mevr\.|dhr\.|mw\.|heer|mr\.?|mrs\.?|ms\.?|miss|monsieur|madame|"
    r"mme\.?|mlle\.?|m\.|dr\.?|my name is|mijn naam is|ik ben|je m'appelle|je suis|"
    r"this is|namens|de la part de|on behalf of|buurman|buurvrouw|partner|echtgeno(?:o|te)|"
    r"broer|zus|moeder|vader|zoon|dochter|neighbou?r|husband|wife|sister|brother|mother|"
    r"father|son|daughter|mari|femme|mère|père|frère|sœur|voisine?|fils|fille)"
    r"[ \t]+(" + NAME + ")")
SIGNED_NAME_RE: Final = re.compile(
    r"(?i:groet(?:en)?|regards|cordialement|salutations|bien à vous|sincerely|"
    r"groetjes),?[ \t]*\n[ \t]*(" + NAME + ")")
MARK_TAG_RE: Final = re.compile(r"</?mark>")
DIGIT_RE: Final = re.compile(r"\d")


def iban(match: str) -> str | None:
    """An IBAN in any case; a word that merely starts like one has too few digits."""
    return "[IBAN]" if sum(c.isdigit() for c in match) >= 8 else None


def national(match: str) -> str | None:
    """A national number (BSN, Belgian national number, French NIR), validated with
    python-stdnum so that a date or a phone number is not mistaken for one."""
    digits = "".join(c for c in match if c.isdigit())
    if not 8 <= len(digits) <= 15:  # BSN 9 (or 8), Belgian 11, NIR 15
        return None
    return "[ID]" if valid_national(digits) else None


@functools.lru_cache(maxsize=4096)
def valid_national(digits: str) -> bool:
    """Cached: the same number recurs in a thread, and validating costs three checksums."""
    return any(m.is_valid(digits) for m in (nl_bsn, be_nn, fr_nir))



#: What is redacted, in order of precedence (earlier wins where spans overlap).
PATTERNS: Final[tuple[tuple[re.Pattern[str], str | Callable[[str], str | None]], ...]] = (
    (EMAIL_RE, "[EMAIL]"),
    (IBAN_RE, iban),
    (ADDRESS_RE, "[ADDRESS]"),
    (PHONE_RE, national),
    (DATE_RE, "[DATE]"),
    (SPOKEN_DATE_RE, "[DATE]"),
    (POSTCODE_RE, "[POSTCODE]"),
    (PHONE_RE, "[PHONE]"),
    (SPOKEN_RE, "[NUMBER]"),
)


WORD_RE: Final = re.compile(r"\w+")
MONTH_WORDS: Final = frozenset(MONTHS.split("|"))
DIGIT_WORDS: Final = frozenset(NUMBER_WORDS.split("|"))


def cannot_match(pattern: re.Pattern[str], words: list[str]) -> bool:
    """A cheap, conservative test on the text's words: True only when ``pattern``
    cannot match (a spoken date needs a month name as a whole word; spoken digits need
    three number words). Used where a text is scanned in full (see ``Redactor.spans``);
    elsewhere ``STARTS`` already finds nothing for these two."""
    if pattern is SPOKEN_DATE_RE:
        return not any(w in MONTH_WORDS for w in words)
    if pattern is SPOKEN_RE:
        return sum(w in DIGIT_WORDS for w in words) < 3
    return False


#: Where each pattern can start (``archive.redaction_scan`` says why each is complete).
STARTS: Final[dict[re.Pattern[str], Callable[[TextScan], list[int]]]] = {
    EMAIL_RE: TextScan.email_starts,
    IBAN_RE: TextScan.iban_starts,
    ADDRESS_RE: TextScan.address_starts,
    PHONE_RE: TextScan.phone_starts,
    DATE_RE: lambda scan: scan.date_starts(MONTH_WORDS),
    SPOKEN_DATE_RE: lambda scan: scan.spoken_date_starts(MONTH_WORDS),
    POSTCODE_RE: TextScan.postcode_starts,
    SPOKEN_RE: lambda scan: scan.spoken_number_starts(DIGIT_WORDS),
    TITLED_NAME_RE: TextScan.title_starts,
    SIGNED_NAME_RE: TextScan.sign_off_starts,
}


def literal_starts(pattern: re.Pattern[str], scan: TextScan) -> list[int] | None:
    """Where a party's (or a kept) written form occurs, or None when ``pattern`` is not
    the case-insensitive whole-word literal ``Redactor`` builds (then: scan it all)."""
    value = _literal(pattern)
    if value is None or not scan.literal_case_exact(value):
        return None
    return scan.find([value.lower()])


@functools.lru_cache(maxsize=1024)
def _literal(pattern: re.Pattern[str]) -> str | None:
    """The written form a whole-word literal pattern matches, or None: read once per
    pattern (``re.compile`` gives the same object for the same party's form), not for
    each text it redacts."""
    body = pattern.pattern.removeprefix(r"(?<!\w)").removesuffix(r"(?!\w)")
    value = re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)
    if (not value or re.escape(value) != body or not pattern.flags & re.IGNORECASE
            or pattern.pattern != rf"(?<!\w){body}(?!\w)"):
        return None
    return value


def matches_of(pattern: re.Pattern[str], scan: TextScan,
           starts: list[int] | None) -> list[re.Match[str]]:
    if starts is None:
        return list(pattern.finditer(scan.text))
    return list(scan.matches(pattern, starts))


def looks_identifying(text: str) -> bool:
    """Whether a query names a person: an e-mail address, a phone number, an IBAN."""
    return bool(EMAIL_RE.search(text) or PHONE_RE.search(text) or IBAN_RE.search(text)
                or sum(c.isdigit() for c in text) >= 6)

