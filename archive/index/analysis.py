"""Language analysis for search: Snowball stems per item language, shared by every backend.

A customer writes ``facturen`` and the agent searches ``factuur``; a Walloon
mail says ``factures`` and the search says ``facture``. Every backend therefore
keeps, beside an item's exact tokens, its *stems*: each word lower-cased,
reduced by the Snowball stemmer of the item's language (PyStemmer, the C build
of the Snowball project's stemmers), then folded like every token (case,
diacritics). A plain query word matches an item when one of its forms does:
the word itself, or its stem in each of ``ANALYSED_LANGUAGES`` (the query does
not know the language of the items it looks for). Quoted phrases match the
exact tokens only, so ``"facturen betaald"`` still means those words in that
order and nothing else.

Why stemming here and not in the engines: SQLite's FTS5 has only the English
Porter tokenizer (and a custom tokenizer needs C), and the minimal
Elasticsearch distribution the tests run has no language analyzers; stemming
in Python gives both backends the same tokens, hence the same matches and totals.

Stop words are kept on purpose: words are ANDed, so dropping ``de`` or ``le``
from the index would make a query of them find nothing, and bm25's idf already
weighs such words close to zero. Items in a language without a stemmer (or of
unknown language, or one query words are not stemmed in) have their exact tokens
as stems, so every word as written still finds them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Final, Protocol

import Stemmer

from archive.index.query import fold, make_snippet, tokenize
from archive.language import TEXT_LANGUAGES

#: Query words are stemmed in each of these languages (the languages items are
#: detected in, see ``archive.language``), besides being matched as written.
ANALYSED_LANGUAGES: Final = TEXT_LANGUAGES
#: ISO 639-1 code to Snowball algorithm, for the languages PyStemmer ships.
SNOWBALL: Final = {
    "ar": "arabic", "ca": "catalan", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "eu": "basque", "fi": "finnish", "fr": "french",
    "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish",
    "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}
_WORD_RE: Final = re.compile(r"\w+", re.UNICODE)
_PHRASE_RE: Final = re.compile(r'"([^"]*)"|(\S+)')  # as ``query.parse_query`` splits
_local = threading.local()  # a PyStemmer Stemmer keeps a cache and is not thread-safe
#: Distinct words whose stems ``analyse`` keeps per thread and language, beyond which it
#: starts afresh (a few MB; PyStemmer keeps a cache of 10,000 words of its own).
STEM_CACHE_WORDS: Final = 20_000
#: A word's stems as ``analyse`` writes them: its stem (folded), the stem of its
#: unaccented spelling where that differs (else None), and the tokens of each.
_WordStems = tuple[str, str | None, tuple[str, ...], tuple[str, ...]]


class _Snowball(Protocol):
    def stemWord(self, word: str) -> str: ...

    def stemWords(self, words: Sequence[str]) -> list[str]: ...


def _stemmer(language: str | None) -> _Snowball | None:
    algorithm = SNOWBALL.get((language or "").partition("-")[0])
    if algorithm is None:
        return None
    stemmers: dict[str, _Snowball] | None = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    found = stemmers.get(algorithm)
    if found is None:
        found = stemmers[algorithm] = Stemmer.Stemmer(algorithm)
    return found


def _item_analyser(language: str | None) -> tuple[_Snowball, dict[str, _WordStems]] | None:
    """The item stemmer of ``language`` (``_item_stemmer``) and this thread's cache of
    the stems it gave (``analyse``)."""
    stemmer = _item_stemmer(language)
    if stemmer is None:
        return None
    caches: dict[str, dict[str, _WordStems]] | None = getattr(_local, "word_stems", None)
    if caches is None:
        caches = _local.word_stems = {}
    return stemmer, caches.setdefault(SNOWBALL[(language or "").partition("-")[0]], {})


def _item_stemmer(language: str | None) -> _Snowball | None:
    """The stemmer an item's text gets: only those query words are also stemmed in, so
    a word as written always finds an item (a Spanish item's stems are its words)."""
    code = (language or "").partition("-")[0]
    return _stemmer(code) if code in ANALYSED_LANGUAGES else None


@dataclass(frozen=True, slots=True)
class Stemmed:
    """A text's stems: one per word, in order (what the ``stems`` column and field hold,
    so bm25 counts a stem as often as its words occur), and their distinct tokens."""

    text: str
    #: The distinct tokens of ``text``, in order of first occurrence (an item's row in
    #: the embedded index's ``items`` table holds each stem once).
    distinct: tuple[str, ...]


def analyse(text: str, language: str | None) -> Stemmed:
    """The stems of ``text`` in ``language``, folded like every token (see ``stems``).

    Each distinct word is stemmed and folded once and its stem repeated for every
    occurrence: a 64 KiB e-mail has about 10,000 words but rarely more than a few
    hundred distinct ones, and stemming and folding each occurrence cost more than the
    rest of its index document. Words are found per distinct blank-separated chunk
    (most are words already), which is cheaper than ``\\w+`` over the whole text, and
    a word's stems are kept for the next text (``STEM_CACHE_WORDS``). The result is
    token for token what stemming each occurrence gives
    (``tests/archive/test_stems_equivalence.py``).
    """
    analyser = _item_analyser(language)
    if analyser is None:
        chunks, words_in = _chunks(fold(text))
        found = dict.fromkeys(chain.from_iterable(words_in.values()))
        return Stemmed(_joined(chunks, {c: " ".join(ws) if ws else None
                                        for c, ws in words_in.items()}), tuple(found))
    stemmer, cache = analyser
    chunks, words_in = _chunks(text.lower())
    distinct = list(dict.fromkeys(chain.from_iterable(words_in.values())))
    new = [w for w in distinct if w not in cache]
    if new:
        if len(cache) + len(new) > STEM_CACHE_WORDS:
            cache.clear()  # afresh, with every word this text needs (kept ones included)
            new = distinct
        cache.update(_word_stems(stemmer, new))
    of = {w: cache[w] for w in distinct}
    stemmed = _joined(chunks, {
        c: of[ws[0]][0] if len(ws) == 1 else " ".join(of[w][0] for w in ws) if ws else None
        for c, ws in words_in.items()})
    found = dict.fromkeys(chain.from_iterable(of[w][2] for w in distinct))
    if any(e[1] is not None for e in of.values()):
        # After all the stems, for each occurrence of such a word, in order.
        more = _joined(chunks, {c: of[ws[0]][1] if len(ws) == 1 else _extras(of, ws)
                                for c, ws in words_in.items()})
        stemmed = f"{stemmed} {more}"
        found.update(dict.fromkeys(chain.from_iterable(of[w][3] for w in distinct)))
    return Stemmed(stemmed, tuple(found))


def analyser(language: str | None) -> Callable[[str], Stemmed]:
    """``analyse`` in ``language`` for the texts of one document, each distinct text once:
    a section's redacted copy is the section itself when it has nothing to redact."""
    done: dict[str, Stemmed] = {}

    def of(text: str) -> Stemmed:
        found = done.get(text)
        if found is None:
            found = done[text] = analyse(text, language)
        return found

    return of


def _extras(of: dict[str, _WordStems], words: list[str]) -> str | None:
    """The stems of the unaccented spellings of a chunk's words (None: no such stem)."""
    extras = [e for e in (of[w][1] for w in words) if e is not None]
    return " ".join(extras) if extras else None


def _word_stems(stemmer: _Snowball, words: list[str]) -> dict[str, _WordStems]:
    """The stems of distinct words. A word with accents also gets the stem of its
    unaccented spelling, which is what a query typed without them stems to
    (``electricite``: ``electricit``, not ``electr``)."""
    accented = [w for w in words if not w.isascii()]
    bare = dict(zip(accented, stemmer.stemWords([fold(w) for w in accented]), strict=True))
    out: dict[str, _WordStems] = {}
    for word, stem in zip(words, stemmer.stemWords(words), strict=True):
        folded = fold(stem)
        other = bare.get(word)
        extra = None if other is None or other == folded else fold(other)
        out[word] = (folded, extra, _tokens(folded), () if extra is None else _tokens(extra))
    return out


def _tokens(folded: str) -> tuple[str, ...]:
    """``tokenize`` of a folded stem (usually the stem itself)."""
    if folded.isascii() and folded.isalnum():
        return (folded,)
    return tuple(tokenize(folded))


def token_text(text: str) -> str:
    """``" ".join(tokenize(text))``, the same way ``analyse`` finds words (Elasticsearch
    indexes every section's exact tokens so)."""
    chunks, words_in = _chunks(fold(text))
    return _joined(chunks, {c: " ".join(ws) if ws else None for c, ws in words_in.items()})


def _chunks(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """``text`` split at blanks, and each distinct chunk's ``\\w+`` words: blanks are never
    part of a word, and a chunk that is all alphanumeric is one word."""
    chunks = text.split()
    return chunks, {c: [c] if c.isalnum() else _WORD_RE.findall(c)
                    for c in dict.fromkeys(chunks)}


def _joined(chunks: list[str], piece: dict[str, str | None]) -> str:
    """Each chunk's piece, in order, space-separated; None: the chunk has none (no
    words), while an empty piece keeps its place as stemming each word did."""
    if "" in piece.values():
        return " ".join(p for p in map(piece.__getitem__, chunks) if p is not None)
    return " ".join(filter(None, map(piece.__getitem__, chunks)))


def stems(text: str, language: str | None) -> str:
    """The stems of ``text`` in ``language``, space-separated, folded like every token.

    Stemmed before folding, as the Snowball stemmers expect accents (``électricité``),
    and, for words with accents, also after. Without a stemmer for the language, the
    exact tokens. Only single words are matched against stems, so their order is free.
    """
    return analyse(text, language).text


def word_forms(word: str, languages: Iterable[str] = ANALYSED_LANGUAGES) -> tuple[str, ...]:
    """The forms a query word matches in the stems: as written, and stemmed per language."""
    lowered = word.lower()
    forms = dict.fromkeys(tokenize(lowered))
    for language in languages:
        stemmer = _stemmer(language)
        if stemmer is not None:
            forms.update(dict.fromkeys(tokenize(stemmer.stemWord(lowered))))
            forms.update(dict.fromkeys(tokenize(stemmer.stemWord(fold(lowered)))))
    return tuple(forms)


def token_stem(token: str, language: str | None) -> str:
    """One word's stem in ``language`` (folded), as ``stems`` writes it."""
    stemmer = _item_stemmer(language)
    lowered = token.lower()
    return fold(stemmer.stemWord(lowered) if stemmer is not None else lowered)


@dataclass(frozen=True, slots=True)
class Term:
    """One required part of a query: an exact phrase, or a plain word and its forms."""

    #: The exact tokens (a quoted phrase, or a plain word, which may be several tokens).
    tokens: tuple[str, ...]
    #: For a plain one-token word: the forms it matches in the stems; empty for phrases.
    forms: tuple[str, ...] = ()


def parse_terms(text: str, languages: Iterable[str] = ANALYSED_LANGUAGES) -> list[Term]:
    """``parse_query``'s phrases, plain one-token words carrying their stemmed forms."""
    terms: list[Term] = []
    for quoted, bare in _PHRASE_RE.findall(text):
        tokens = tuple(tokenize(quoted if quoted else bare))
        if not tokens:
            continue
        words = _WORD_RE.findall(bare)
        forms = word_forms(words[0], languages) if bare and len(tokens) == len(words) == 1 else ()
        terms.append(Term(tokens, forms))
    return terms


def snippet(text: str, terms: Sequence[Term], language: str | None) -> str:
    """``make_snippet`` marking exact phrases and the words whose stem a plain word matches."""
    phrases = [t.tokens for t in terms if not t.forms]
    forms = {f for t in terms for f in t.forms}

    def stemmed(token: str) -> bool:
        return (fold(token) in forms or token_stem(token, language) in forms
                or token_stem(fold(token), language) in forms)

    return make_snippet(text, phrases, also=stemmed if forms else None)
