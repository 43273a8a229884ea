"""What every recogniser shares: what it finds (``Found``) and what it is given
(``Context``: the text's words, the item's language and the parties' names).

A recogniser is a small object with a ``name`` and ``find(context)``; the
``Redactor`` runs them after the written patterns, so they add what those miss
and never take away what those find (an ``absorb`` finding, such as a whole
e-mail address that a party's surname was found inside, replaces the smaller
spans it covers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final, Protocol

from archive.anonymise.recognisers.words import is_first_name, is_number_word

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


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int
    text: str
    low: str


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

    @cached_property
    def tokens(self) -> list[Token]:
        text = self.text
        low = text.casefold()
        if len(low) != len(text):  # "ß" -> "ss": case-fold each word on its own
            return [Token(m.start(), m.end(), m.group(), m.group().casefold())
                    for m in TOKEN_RE.finditer(text)]
        return [Token(s, e, text[s:e], low[s:e])
                for s, e in (m.span() for m in TOKEN_RE.finditer(text))]

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


class Recogniser(Protocol):
    name: str

    def find(self, context: Context) -> Iterable[Found]: ...
