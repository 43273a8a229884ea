"""ingest.email.htmltext: HTML reduced to index text, linearly, on hostile markup too."""

from __future__ import annotations

import time

import pytest

from ingest.email.htmltext import html_to_text


def test_html_to_text_survives_broken_markup() -> None:
    assert html_to_text("<p>ok<b>bold<div><<<>>&#xZZ;</p").startswith("ok")
    assert html_to_text("visible <!-- never closed " * 100) == "visible"
    assert html_to_text("x" * 50, max_chars=10) == "x" * 10
    assert html_to_text("3 < 4 and 5 > 2 <b>bold</b>") == "3 < 4 and 5 > 2 bold"


@pytest.mark.parametrize("unit", ["<!--", "<a ", "< ", "<<", "<p>", "<script>", "<a b='", "&#"])
def test_html_reduction_is_linear_on_hostile_markup(unit: str) -> None:
    # html.parser needs minutes for some of these (CVE-2025-6069 class).
    started = time.monotonic()
    html_to_text(unit * 300_000 + ">")
    assert time.monotonic() - started < 3.0
