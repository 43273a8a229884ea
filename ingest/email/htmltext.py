"""Reduce HTML to plain text for the search index, in linear time.

Nothing is rendered, no URL is resolved and nothing is ever fetched (no remote
images, no CSS), so indexing a tracking-pixel newsletter cannot tell its sender
it was read.

This is a small scanner, not ``html.parser``: the standard parser goes
quadratic on some malformed input (unclosed ``<!--``, runs of ``<a ``: minutes
for 300 KB, the CVE-2025-6069 class), and mail is hostile input. Each step
here jumps forward with ``str.find``/compiled searches, so the work is linear.
"""

from __future__ import annotations

import html
import re
from typing import Final

#: Elements whose content is never text a reader would see.
_SKIP_TAGS: Final = frozenset(
    {"script", "style", "head", "template", "noscript", "svg", "object", "title"}
)
#: Elements that start a new line of text.
_BLOCK_TAGS: Final = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_TAG_NAME: Final = re.compile(r"/?([a-zA-Z][a-zA-Z0-9:-]{0,31})")
_ALT: Final = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_SPACES: Final = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES: Final = re.compile(r"\n\s*\n+")
_CLOSERS: dict[str, re.Pattern[str]] = {
    tag: re.compile(rf"</\s*{tag}\b[^>]*>", re.IGNORECASE) for tag in _SKIP_TAGS
}
DEFAULT_MAX_CHARS: Final = 1_000_000


def html_to_text(document: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Visible text of an HTML document (scripts, styles and head dropped), at most ``max_chars``.

    Never raises on malformed markup: an unclosed comment or skipped element hides
    the rest of the document (as a browser would), an unclosed tag ends the markup.
    """
    out: list[str] = []
    size = 0
    pos = 0
    next_gt = -1
    end = len(document)
    while pos < end and size < max_chars:
        lt = document.find("<", pos)
        if lt < 0:
            lt = end
        if lt > pos:
            text = html.unescape(document[pos:lt])
            out.append(text)
            size += len(text)
        if lt >= end:
            break
        if document.startswith("<!--", lt):
            close = document.find("-->", lt + 4)
            if close < 0:
                break
            pos = close + 3
            continue
        if next_gt <= lt:
            next_gt = document.find(">", lt + 1)
        if next_gt < 0:  # no tag can close after this point: the rest is text
            out.append(html.unescape(document[lt:]))
            break
        gt = next_gt
        match = _TAG_NAME.match(document, lt + 1, gt)
        if match is None:
            if document[lt + 1 : lt + 2] in ("!", "?"):  # <!DOCTYPE>, <?xml?>, <![CDATA[]]>
                pos = gt + 1
            else:  # a stray "<" as in "3 < 4": text (the cached ">" keeps this linear)
                out.append("<")
                pos = lt + 1
            continue
        tag = document[lt + 1 : gt]
        pos = gt + 1
        name = match.group(1).lower()
        closing = tag.startswith("/")
        if name in _SKIP_TAGS and not closing and not tag.rstrip().endswith("/"):
            skip_end = _CLOSERS[name].search(document, pos)
            if skip_end is None:
                break
            pos = skip_end.end()
            continue
        if name in _BLOCK_TAGS:
            out.append("\n")
        if name == "img" and not closing:
            alt = _ALT.search(tag)
            if alt:
                value = next(g for g in alt.groups() if g is not None)
                out.append(f" {html.unescape(value)} ")
    joined = "".join(out)
    lines = [_SPACES.sub(" ", line).strip() for line in joined.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return text[:max_chars]
