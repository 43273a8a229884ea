"""The mentions of a text are found exactly as before, without scanning every character.

``archive.indexing.mentions_in`` ran two regular expressions over every character of
every section (an address candidate and a digit run), 4 ms of a 64 KiB e-mail's index
document. It now tries them only where ``archive.redaction_scan.TextScan`` says they
can start (at an '@', at a digit run); a subject lookup must find exactly what it
found. ``reference_mentions`` is the previous implementation, copied unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.anonymise import AnonymisedView
from archive.config import ArchiveConfig
from archive.indexing import MAX_NUMBER_MATCHES, PARTY_SECTIONS, mentions_in
from archive.model import Section
from archive.parties import normalise_email
from archive.redaction_scan import TextScan
from archive.service import Archive
from tests import corpus
from tests.conftest import email_item

_EMAIL_CANDIDATE_RE: Final = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_NUMBER_RUN_RE: Final = re.compile(r"\+?\(?\d[\d\s().\-/]{5,}\d")


def reference_mentions(config: ArchiveConfig, sections: Iterable[Section]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    region = config.default_region or None
    budget = MAX_NUMBER_MATCHES
    for section in sections:
        if section.kind in PARTY_SECTIONS:
            continue
        text = section.text
        for run in _NUMBER_RUN_RE.finditer(text):
            window = text[max(0, run.start() - 1):run.end() + 1]
            for match in phonenumbers.PhoneNumberMatcher(window, region):
                found[phonenumbers.format_number(
                    match.number, phonenumbers.PhoneNumberFormat.E164)] = None
                budget -= 1
                if budget <= 0:
                    break
            if budget <= 0:
                break
        for candidate in _EMAIL_CANDIDATE_RE.findall(section.text):
            address = normalise_email(candidate.strip("."))
            if address:
                found[address] = None
    return tuple(found)


PIECES = ("+31 6 12345678", "06-12345678", "(020) 555 0100", "+32 (0)2 555 01 00",
          "0612345678", "+44 20 7946 0958", "1234567", "12 34 56 78 90", "42", "2024-01-31",
          "a@b.nl", "Jan.Jansen+tag@Example.COM", "x@y", "@example.com", "mail@@x.nl",
          "a.b@c.d.e", "é@voorbeeld.be", "name@dom-ain.org.", "a@b.nl@c.nl", "...@x.nl",
          "+", "(", "((0612345678))", "+(31)612345678", "06 1234 5678\n+31 6 8765 4321",
          "﹫", "٠٦١٢٣٤٥٦٧٨", "06\u00a012345678", "06/12345678", "06.12.34.56.78")
SEPARATORS = (" ", "", "\n", ", ", ".", "-", "+", "(", ")", "/", "_", "x", "@", " tel: ")


@st.composite
def texts(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6),
                                     st.from_regex(r"[0-9 ()+.\-/]{1,14}", fullmatch=True)),
                           max_size=25))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(pieces),
                         max_size=len(pieces)))
    return "".join(p + s for p, s in zip(pieces, seps, strict=True))


CONFIGS = (ArchiveConfig(), ArchiveConfig(default_region="BE"), ArchiveConfig(default_region=""))


@settings(max_examples=300, deadline=None)
@given(text=texts(), other=texts(), config=st.sampled_from(CONFIGS))
def test_generated_texts_have_the_same_mentions_as_before(
    text: str, other: str, config: ArchiveConfig,
) -> None:
    sections = [Section("subject", other), Section("body", text), Section("parties", text)]
    assert mentions_in(config, sections) == reference_mentions(config, sections)


@pytest.mark.parametrize("doc", corpus.documents(), ids=lambda d: d.id)
def test_the_labelled_corpus_has_the_same_mentions_as_before(doc: corpus.Doc) -> None:
    sections = [Section("body", doc.text())]
    found = mentions_in(ArchiveConfig(), sections)
    assert found == reference_mentions(ArchiveConfig(), sections)


def test_more_numbers_than_the_budget_stop_where_they_stopped() -> None:
    text = " ".join(f"+3161{n:07d}" for n in range(MAX_NUMBER_MATCHES + 50))
    sections = [Section("body", text), Section("body", "+31687654321 a@b.nl")]
    found = mentions_in(ArchiveConfig(), sections)
    assert found == reference_mentions(ArchiveConfig(), sections)
    assert len(found) > MAX_NUMBER_MATCHES and "a@b.nl" in found  # addresses go on


def test_the_index_document_scans_each_text_once_for_mentions_and_redacted_copy(
    archive: Archive, monkeypatch: pytest.MonkeyPatch,
) -> None:
    item = email_item(body="Jan asks about 06 1234 5678, or mail jan@klant.nl",
                      customer="jan@klant.nl")
    item_id = archive.ingest(item).item_id
    scanned: list[str] = []
    real_init = TextScan.__init__

    def counting_init(self: TextScan, text: str) -> None:
        scanned.append(text)
        real_init(self, text)

    monkeypatch.setattr(TextScan, "__init__", counting_init)
    doc = archive.build_index_doc(item_id)
    assert sorted(scanned) == sorted(s.text for s in doc.sections if s.kind != "parties")
    assert set(doc.mentions) == {"+31612345678", "jan@klant.nl"}
    assert doc.redacted[1].text == "[CUSTOMER-1] asks about [PHONE], or mail [CUSTOMER-1]"
    view = AnonymisedView(item.parties, doc.language)
    assert doc.redacted == view.sections(doc.sections)
    assert doc.mentions == reference_mentions(archive.config, doc.sections)
