"""The query language shared by the embedded index backends: words AND "phrases"."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

_TOKEN_RE: Final = re.compile(r"\w+", re.UNICODE)
_PHRASE_RE: Final = re.compile(r'"([^"]*)"|(\S+)')
MARK_OPEN: Final = "\x01"
MARK_CLOSE: Final = "\x02"


def fold(text: str) -> str:
    """Case- and diacritics-insensitive form, as the unicode61 tokenizer sees it.

    Simple lower-casing (``ß`` stays ``ß``) and canonical decomposition only, to
    match FTS5's unicode61 with remove_diacritics 2 token for token.
    """
    if text.isascii():  # nothing to decompose (most text, and every stem of it)
        return text.lower()
    decomposed = unicodedata.normalize("NFD", text.lower())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Recompose what is left: Hangul syllables decompose into jamo, which are not
    # combining marks, and the FTS5 tokenizer sees the composed syllables.
    return unicodedata.normalize("NFC", stripped)


def tokenize(text: str) -> list[str]:
    return _TOKEN_RE.findall(fold(text))


def parse_query(text: str) -> list[tuple[str, ...]]:
    """Split a query into required phrases (a single word is a one-token phrase)."""
    phrases: list[tuple[str, ...]] = []
    for quoted, bare in _PHRASE_RE.findall(text):
        tokens = tuple(tokenize(quoted if quoted else bare))
        if tokens:
            phrases.append(tokens)
    return phrases


def render_snippet(raw: str) -> str:
    """HTML-escape a snippet whose matches are wrapped in the sentinel marks."""
    escaped = html.escape(raw, quote=False)
    return escaped.replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")


SNIPPET_WORDS: Final = 12


def make_snippet(
    text: str, phrases: Sequence[tuple[str, ...]], *, words_around: int = SNIPPET_WORDS,
    also: Callable[[str], bool] | None = None,
) -> str:
    """About ``words_around`` words from just before the first match, matches marked.

    For backends that have no snippet function of their own (memory, Elasticsearch
    over pre-tokenized text); the result is HTML-safe like every snippet. ``also``
    marks single words as well, given each lower-cased word (stemmed matches).
    """
    words = text.split()
    folded = [tokenize(w) for w in words]
    marked: set[int] = set()
    if also is not None:
        marked.update(i for i, w in enumerate(words)
                      if any(also(t) for t in _TOKEN_RE.findall(w.lower())))
    for phrase in phrases:
        for i in range(len(words)):
            window: list[str] = []
            j = i
            while j < len(words) and len(window) < len(phrase):
                window.extend(folded[j])
                j += 1
            if tuple(window[: len(phrase)]) == phrase:
                marked.update(range(i, j))
    first = min(marked) if marked else 0
    lo = max(0, first - words_around // 3)
    hi = min(len(words), lo + words_around)
    out = " ".join(
        f"{MARK_OPEN}{words[k]}{MARK_CLOSE}" if k in marked else words[k] for k in range(lo, hi)
    )
    return render_snippet(("…" if lo else "") + out + ("…" if hi < len(words) else ""))


def mark_words(text: str, phrases: Sequence[tuple[str, ...]]) -> str:
    """HTML-escape ``text`` and mark each word that is one of the query's tokens."""
    wanted = {token for phrase in phrases for token in phrase}
    out = []
    for word in text.split():
        escaped = html.escape(word, quote=False)
        hit = wanted and any(t in wanted for t in tokenize(word))
        out.append(f"<mark>{escaped}</mark>" if hit else escaped)
    return " ".join(out)


def iso_utc(value: datetime) -> str:
    """A timestamp as both index backends store it: UTC, microseconds, sortable."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
