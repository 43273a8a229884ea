"""Reduce HTML to plain text for the search index.

Only ``html.parser`` from the standard library is used: nothing is rendered,
no URL is resolved and nothing is ever fetched (no remote images, no CSS), so
indexing a tracking-pixel newsletter cannot tell its sender it was read.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Final

#: Elements whose content is never text a reader would see.
_SKIP_TAGS: Final = frozenset({"script", "style", "head", "template", "noscript", "svg", "object"})
#: Elements that start a new line of text.
_BLOCK_TAGS: Final = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_VOID_TAGS: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
     "track", "wbr"}
)  # fmt: skip
_SPACES: Final = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES: Final = re.compile(r"\n\s*\n+")
DEFAULT_MAX_CHARS: Final = 1_000_000


class _Reducer(HTMLParser):
    def __init__(self, max_chars: int) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._size = 0
        self._skip_depth = 0
        self._max_chars = max_chars
        self.truncated = False

    def _emit(self, text: str) -> None:
        if self._size >= self._max_chars:
            self.truncated = True
            return
        self._out.append(text)
        self._size += len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag in _BLOCK_TAGS:
            self._emit("\n")
        if tag == "img":
            # The alt text is what a reader without images sees; the src is never touched.
            alt = dict(attrs).get("alt")
            if alt:
                self._emit(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            if self._skip_depth:
                self._skip_depth -= 1
            return
        if not self._skip_depth and tag in _BLOCK_TAGS:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._emit(data)

    def text(self) -> str:
        joined = "".join(self._out)
        lines = [_SPACES.sub(" ", line).strip() for line in joined.split("\n")]
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(html: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Visible text of an HTML document (scripts, styles and head dropped), at most ``max_chars``.

    Malformed markup never raises: whatever was recovered before the error is returned.
    """
    reducer = _Reducer(max_chars)
    try:
        reducer.feed(html)
        reducer.close()
    except (AssertionError, ValueError):  # html.parser's own complaints about broken markup
        pass
    text = reducer.text()
    return text[:max_chars]
