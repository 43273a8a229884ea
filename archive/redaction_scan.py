"""Where in a text a redaction pattern can start, found without running the pattern.

Running about a dozen regular expressions over every character of a 64 KiB e-mail
cost 60-100 ms of CPU per message, and every message is indexed with its redacted
copy. Almost every character of a real text is one where no pattern can start, and
a few cheap facts tell which are not: where the digit runs are (dates, phones,
postcodes, IBANs and house numbers all need one), where '@' is, where a month name,
a title or a sign-off word is written (``str.find`` on the lowercased text, which
runs at memory speed).

``TextScan.matches`` then gives exactly what ``pattern.finditer(text)`` gives:
``finditer`` yields, from the end of the previous match, the match at the first
position where the pattern matches; when ``starts`` holds every position where it
can match, trying only those, in order, with ``pattern.match(text, start)`` (which
sees the text before ``start`` for lookbehinds and ``\\b``) finds the same match at
the same position. So a candidate list may hold too many positions, never too few;
``tests/archive/test_redaction_equivalence.py`` holds the old full scan as the
reference and checks that both redact identically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final

#: Characters that ``re.IGNORECASE`` treats as equal to a character with another
#: lowercase form (``re._casefix``: dotless i U+0131 and i, long s U+017F and s,
#: Greek and Cyrillic variants), the final sigma ``str.lower`` writes as U+03C2
#: among them. Where the lowercased text holds one, ``str.find`` could miss a match.
CASE_EQUIVALENTS: Final = re.compile(
    "[\u00b5\u0131\u017f\u0345\u0390\u03b0\u03b2\u03b5\u03b8\u03b9\u03ba\u03bc\u03c0"
    "\u03c1\u03c2\u03c3\u03c6\u03d0\u03d1\u03d5\u03d6\u03f0\u03f1\u03f5\u0432\u0434"
    "\u043e\u0441\u0442\u044a\u0463\u1c80-\u1c88\u1e61\u1e9b\u1fbe\u1fd3\u1fe3\ua64b"
    "\ufb05\ufb06]")
_DIGITS: Final = re.compile(r"\d+")
_WORD: Final = re.compile(r"\w+")
_EMAIL_CHAR: Final = re.compile(r"[\w.+\-]")


#: A title's first word (a whole word: ``\\b`` before, a dot or blank after) and the
#: literals that find the titles starting with it ("my" alone would find every "my").
TITLE_WORDS: Final = {
    **{w: (w,) for w in (
        "meneer", "mevrouw", "mevr", "dhr", "mw", "heer", "mr", "mrs", "ms", "miss", "monsieur",
        "madame", "mme", "mlle", "dr", "namens", "buurman", "buurvrouw", "partner",
        "echtgenoot", "echtgenote", "broer", "zus", "moeder", "vader", "zoon", "dochter",
        "neighbour", "neighbor", "husband", "wife", "sister", "brother", "mother", "father",
        "son", "daughter", "mari", "femme", "m\u00e8re", "p\u00e8re", "fr\u00e8re",
        "s\u0153ur", "voisin", "voisine", "fils", "fille")},
    "m": ("m.",), "my": ("my name is",), "mijn": ("mijn naam is",), "ik": ("ik ben",),
    "je": ("je m'appelle", "je suis"), "this": ("this is",), "de": ("de la part de",),
    "on": ("on behalf of",),
}
#: Sign-offs, found anywhere (their pattern has no ``\\b`` before), and the whole
#: word each one ends with.
SIGN_OFFS: Final = {"groet": "groet", "groeten": "groeten", "groetjes": "groetjes",
                    "regards": "regards", "cordialement": "cordialement",
                    "salutations": "salutations", "bien \u00e0 vous": "vous",
                    "sincerely": "sincerely"}
#: Words that start a French street name (whole words: a blank follows).
FR_STREET_WORDS: Final = ("rue", "avenue", "boulevard", "bd", "chemin", "place",
                          "all\u00e9e", "impasse", "quai", "route", "chauss\u00e9e")
#: What ends a Dutch street name, right before the house number's blanks.
NL_STREET_SUFFIXES: Final = ("straat", "laan", "weg", "plein", "gracht", "dijk", "kade",
                             "singel", "steenweg", "dreef", "pad", "hof", "markt", "lei",
                             "baan", "steeg", "park", "veld")
_UPPER: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _is_word(char: str) -> bool:
    """``\\w`` of ``re`` for one character (Unicode alphanumeric or underscore)."""
    return char.isalnum() or char == "_"


def _is_cap(char: str) -> bool:
    """``[A-Z\u00c0-\u00dd]``, the first letter of a capitalised word in the patterns."""
    return "A" <= char <= "Z" or "\xc0" <= char <= "\xdd"


class TextScan:
    """Cheap facts about one text, computed once and shared by all patterns."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.low = text.lower()
        #: Whether literals found in ``low`` are exactly where ``re.IGNORECASE``
        #: finds them: one lowercase character per character and no case equivalents.
        self.exact_case = len(self.low) == len(text) and (
            self.low.isascii() or not CASE_EQUIVALENTS.search(self.low))
        self.digit_runs = [(m.start(), m.end()) for m in _DIGITS.finditer(text)]
        self._words: frozenset[str] | None = None
        self._email_starts: list[int] | None = None

    @property
    def words(self) -> frozenset[str]:
        """Every word (``\\w+`` run) of the text, lowercased: splitting at blanks runs
        at C speed, and only the few distinct tokens with punctuation need ``re``."""
        if self._words is None:
            words: set[str] = set()
            for token in set(self.text.split()):
                if token.isalnum():
                    words.add(token.lower())
                else:
                    words.update(w.lower() for w in _WORD.findall(token))
            self._words = frozenset(words)
        return self._words

    def matches(self, pattern: re.Pattern[str], starts: Iterable[int]) -> Iterator[re.Match[str]]:
        """``pattern.finditer(text)``, trying only ``starts`` (which must hold every
        position where ``pattern`` can match; duplicates and disorder are fine)."""
        pos = 0
        for start in sorted(set(starts)):
            if start < pos or start < 0:
                continue
            m = pattern.match(self.text, start)
            if m is not None:
                yield m
                pos = m.end()

    def literal_case_exact(self, literal: str) -> bool:
        """Whether ``find`` of this literal in ``low`` is exactly an IGNORECASE match."""
        low = literal.lower()
        return self.exact_case and len(low) == len(literal) and not CASE_EQUIVALENTS.search(low)

    def find(self, literals: Iterable[str]) -> list[int]:
        """Every position where one of the (lowercase) literals occurs in ``low``."""
        low, out = self.low, []
        for literal in literals:
            at = low.find(literal)
            while at >= 0:
                out.append(at)
                at = low.find(literal, at + 1)
        return out

    def whole_words(self, words: Iterable[str]) -> list[int]:
        """Starts of the words of the text that, lowercased, are one of ``words``."""
        text, low, out = self.text, self.low, []
        present = [w for w in words if w in self.words]
        wanted = frozenset(present)
        for at in sorted(set(self.find(present))):
            if at and _is_word(text[at - 1]):
                continue
            m = _WORD.match(text, at)
            if m is not None and low[at:m.end()] in wanted:
                out.append(at)
        return out

    # -- where each pattern can start (anonymise's patterns; why each is complete) ----

    def email_starts(self) -> list[int]:
        """An address ends right at its '@': the start of the address characters before.
        Kept: the written patterns and the recognisers both ask."""
        if self._email_starts is None:
            self._email_starts = self._find_email_starts()
        return self._email_starts

    def _find_email_starts(self) -> list[int]:
        text, out = self.text, []
        at = text.find("@")
        while at >= 0:
            start = at
            while start and _EMAIL_CHAR.match(text, start - 1):
                start -= 1
            out.append(start)
            at = text.find("@", at + 1)
        return out

    def iban_starts(self) -> list[int]:
        """Two letters, then a run of at least two digits."""
        text = self.text
        return [s - 2 for s, e in self.digit_runs
                if e - s >= 2 and s >= 2 and text[s - 1].isalpha() and text[s - 2].isalpha()]

    def phone_starts(self) -> list[int]:
        """A digit run, or the '+' right before one."""
        text, runs = self.text, self.digit_runs
        return [s for s, _ in runs] + [s - 1 for s, _ in runs if s and text[s - 1] == "+"]

    def postcode_starts(self) -> list[int]:
        """1234 AB and B-1000 Town: a run of 4-5 digits (or the "B-" before it);
        SW1A 1AA: one or two capitals before a run of one or two digits."""
        text, runs = self.text, self.digit_runs
        long = [s for s, e in runs if 4 <= e - s <= 5]
        short = [s for s, e in runs if e - s <= 2 and s and text[s - 1] in _UPPER]
        return long + [s - 2 for s in long] + [s - 1 for s in short] + [s - 2 for s in short]

    def address_starts(self) -> list[int]:
        """Kerkstraat 12 (a capital in the word ending in a street suffix before the
        number's blanks), 12 Baker Street (a number of up to 5 digits, blanks, a capital),
        12 rue de la Paix (the street word, or a number of up to 4 digits before one)."""
        text, runs, out = self.text, self.digit_runs, []
        if any(w in self.words for w in FR_STREET_WORDS):
            out += self.find(w for w in FR_STREET_WORDS if w in self.words)
            out += [s for s, e in runs if e - s <= 4]
        for s, e in runs:
            if e - s <= 5 and text[e:e + 1] in (" ", "\t"):
                after = e
                while after < len(text) and text[after] in " \t":
                    after += 1
                if after < len(text) and _is_cap(text[after]):
                    out.append(s)
            if s and text[s - 1] in " \t":
                end = s
                while end and text[end - 1] in " \t":
                    end -= 1
                if text.endswith(NL_STREET_SUFFIXES, 0, end):
                    start, end = self.token_before(end, "'\u2019-\xd7")
                    out += [t for t in range(start, end) if _is_cap(text[t])]
        return out

    def date_starts(self, months: frozenset[str]) -> list[int]:
        """1-2-2020 and 2020-02-01 (a digit run with its separator), 1 mars 2020 (a run of
        one or two digits, if a month is written), March 1, 2020 (the month)."""
        text, runs = self.text, self.digit_runs
        found = self.whole_words(months)
        return [s for s, e in runs if (e - s <= 2 and (found or text[e:e + 1] in ("-", "/", ".")))
                or (e - s == 4 and text[e:e + 1] == "-")] + found

    def spoken_date_starts(self, months: frozenset[str]) -> list[int]:
        """A month as a whole word, or up to three spoken numbers before it (at most
        three words each, "quatre-vingt-dix")."""
        found = self.whole_words(months)
        return found + [s for m in found for s in self.word_starts_before(m, 10, "-")]

    def spoken_number_starts(self, numbers: frozenset[str]) -> list[int]:
        """Three number words, each a whole word."""
        found = self.whole_words(numbers)
        return found if len(found) >= 3 else []

    def title_starts(self) -> list[int]:
        """A title's first word is a whole word of the text."""
        return self.find(lit for w in TITLE_WORDS if w in self.words for lit in TITLE_WORDS[w])

    def sign_off_starts(self) -> list[int]:
        """A sign-off ends a word ("Vriendelijke groeten,")."""
        ends = tuple(SIGN_OFFS.values())
        if not any(w.endswith(ends) for w in self.words):
            return []
        return self.find(SIGN_OFFS)

    # -- helpers ------------------------------------------------------------------------

    def word_starts_before(self, at: int, words: int, joiners: str) -> list[int]:
        """The starts of up to ``words`` word runs right before ``at``, going back only
        over word characters, whitespace and ``joiners``."""
        text, pos = self.text, at
        out: list[int] = []
        while pos and len(out) < words:
            char = text[pos - 1]
            if _is_word(char):
                while pos and _is_word(text[pos - 1]):
                    pos -= 1
                out.append(pos)
            elif char.isspace() or char in joiners:
                pos -= 1
            else:
                break
        return out

    def token_before(self, end: int, token_chars: str) -> tuple[int, int]:
        """(start, end) of the run of word characters and ``token_chars`` ending at ``end``."""
        text, start = self.text, end
        while start and (_is_word(text[start - 1]) or text[start - 1] in token_chars):
            start -= 1
        return start, end
