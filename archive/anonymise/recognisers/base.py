"""What every recogniser shares: what it finds (``Found``) and what it is given
(``Context``: the text's words, the item's language and the parties' names).

A recogniser is a small object with a ``name`` and ``find(context)``; the
``Redactor`` runs them after the written patterns, so they add what those miss
and never take away what those find (an ``absorb`` finding, such as a whole
e-mail address that a party's surname was found inside, replaces the smaller
spans it covers).

Every e-mail's index document holds its redacted copy, so the recognisers run on
the indexing path of every message. They are cheap on long natural text because
they never visit every character or every word in Python: a pattern is tried only
where the text's scan (``Context.scan``, shared with the written patterns) says it
can start, and a recogniser of words looks only around the words that concern it
(``Context.indexes``, one word index for all). ``bench/bench_recognisers.py``
measures each; ``tests/archive/test_recognisers_equivalence.py`` holds them to
what they found when they still scanned everything.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final, NamedTuple, Protocol, overload

from archive.anonymise.recognisers.words import is_first_name, is_number_word
from archive.redaction_scan import TextScan

#: A word as recognisers see it: hyphenated and apostrophed compounds stay whole.
TOKEN_RE: Final = re.compile(r"\w+(?:['\u2019-]\w+)*")


@dataclass(frozen=True, slots=True)
class Found:
    start: int
    end: int
    category: str
    #: Replace the spans found so far that lie inside this one (a whole e-mail address
    #: over the surname found in it; a spoken date over the part the patterns saw).
    absorb: bool = False


class Token(NamedTuple):
    """A word of the text; a tuple, as a 64 KiB text has some 11,000 of them and a
    frozen dataclass costs twice as much to make."""

    start: int
    end: int
    text: str
    low: str


class Tokens(Sequence[Token]):
    """The text's words, each made a ``Token`` only when a recogniser looks at it: the
    recognisers look around a few candidate words (``Context.indexes``), and making all
    11,000 tokens of a 64 KiB text cost more than everything they then do."""

    __slots__ = ("_lows", "_spans", "_text")

    def __init__(self, text: str, spans: list[tuple[int, int]], lows: list[str]) -> None:
        self._text, self._spans, self._lows = text, spans, lows

    def __len__(self) -> int:
        return len(self._spans)

    @overload
    def __getitem__(self, index: int) -> Token: ...

    @overload
    def __getitem__(self, index: slice) -> list[Token]: ...

    def __getitem__(self, index: int | slice) -> Token | list[Token]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._spans)))]
        start, end = self._spans[index]
        return Token(start, end, self._text[start:end], self._lows[index])


@dataclass
class Context:
    text: str
    #: The item's language (``archive.language``), or None: then every language's words.
    language: str | None = None
    #: The parties' names, casefolded: whole, each part, and parts with their particles
    #: run together ("deboer" for "de Boer"), to find them inside file names.
    names: frozenset[str] = frozenset()
    #: Spans found so far, (start, end, category), sorted.
    taken: Sequence[tuple[int, int, str]] = field(default_factory=list)
    #: The text's scan (``archive.redaction_scan``) if the caller has made it already.
    given_scan: TextScan | None = None

    @cached_property
    def scan(self) -> TextScan:
        """Where literals and digit runs are: recognisers try their patterns only there."""
        if self.given_scan is not None and self.given_scan.text is self.text:
            return self.given_scan
        return TextScan(self.text)

    @cached_property
    def token_spans(self) -> list[tuple[int, int]]:
        """(start, end) of each word (``TOKEN_RE``), in order."""
        return [m.span() for m in TOKEN_RE.finditer(self.text)]

    @cached_property
    def lows(self) -> list[str]:
        """Each token's casefolded text, in order (``tokens[i].low``)."""
        text = self.text
        low = text.casefold()
        if len(low) != len(text):  # "ß" -> "ss": case-fold each word on its own
            return [text[s:e].casefold() for s, e in self.token_spans]
        return [low[s:e] for s, e in self.token_spans]

    def indexes(self, words: Collection[str]) -> list[int]:
        """The indexes of the tokens whose casefolded text is one of ``words``, in order:
        a recogniser looks around those only, not at every token in Python."""
        where = self.where
        found = [where[w] for w in words if w in where]
        return sorted(itertools.chain.from_iterable(found)) if len(found) > 1 else (
            list(found[0]) if found else [])

    @cached_property
    def where(self) -> dict[str, list[int]]:
        """Each word's token indexes, made once for all the recognisers' ``indexes``."""
        where: dict[str, list[int]] = {}
        for i, low in enumerate(self.lows):
            at = where.get(low)
            if at is None:
                where[low] = [i]
            else:
                at.append(i)
        return where

    @cached_property
    def tokens(self) -> Tokens:
        return Tokens(self.text, self.token_spans, self.lows)

    @cached_property
    def given_names(self) -> frozenset[str]:
        """The text's words that are known given names."""
        return frozenset(w for w in self.words if is_first_name(w))

    @cached_property
    def lowercase(self) -> bool:
        """A text with no capital letter: a transcript, where case says nothing of names."""
        return not any(c.isupper() for c in self.text)

    @cached_property
    def words(self) -> frozenset[str]:
        """Every word of the text, casefolded, without tokenising it all: splitting at
        blanks runs at C speed, and only distinct pieces with punctuation need ``re``."""
        words: set[str] = set()
        for piece in set(self.text.split()):
            if piece.isalnum():
                words.add(piece.casefold())
            else:
                words.update(w.casefold() for w in TOKEN_RE.findall(piece))
        return frozenset(words)

    @cached_property
    def number_words(self) -> frozenset[str]:
        """The text's words that are numbers said aloud, decided once per distinct word."""
        return frozenset(w for w in self.words if is_number_word(w, self.language))


def stripped_end(text: str, end: int, chars: str) -> int:
    """``len(text[:end].rstrip(chars))`` without copying the text before ``end`` (a
    finding in a 64 KiB text copied up to 64 KiB for each match)."""
    while end and text[end - 1] in chars:
        end -= 1
    return end


class Recogniser(Protocol):
    name: str

    def find(self, context: Context) -> Iterable[Found]: ...
