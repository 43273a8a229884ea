"""The recognisers find exactly what they found before they were made cheaper.

On natural text the anonymised copy cost 120-190 ms per 64 KiB, most of it in the
recognisers: the names found once, searched again with one alternation tried at every
character; patterns scanning the whole text where they can start only at a digit run, an
'@' or a title; Python loops over every word of the text; a frozen dataclass per word.
They now try their patterns only where ``archive.redaction_scan.TextScan`` says they can
start, and look only around the words that can concern them (``Context.indexes``).

``tests/archive/recognisers_reference`` holds the previous ``names``, ``spoken`` and
``identifiers`` modules, copied unchanged. The tests compare each rewritten recogniser
with its reference, finding for finding, on the same context (the spans found before it
included), and the whole redactor with the references against the redactor as it is, on
both corpora (as written, upper- and lowercased, in each language and in none) and on
generated texts: the written patterns' building blocks of
``tests/archive/test_redaction_equivalence.py`` with the recognisers' own (given names,
cues, file names, NI numbers, addresses before postcodes, flats, spoken numbers, dates,
streets and e-mail addresses), mixed with characters that case folding treats specially.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.anonymise import Redactor, recognisers
from archive.anonymise.recognisers import identifiers, names, spoken
from archive.anonymise.recognisers.base import TOKEN_RE, Context, Found
from archive.model import AddressKind, Party, PartyRole, Side
from bench import corpus as labelled
from tests import corpus
from tests.archive import test_redaction_equivalence as written
from tests.archive.recognisers_reference import identifiers as old_identifiers
from tests.archive.recognisers_reference import names as old_names
from tests.archive.recognisers_reference import spoken as old_spoken

#: (recogniser as it is, the reference): the ones whose ``find`` was rewritten.
PAIRS: Final[tuple[tuple[Any, Any], ...]] = (
    (names.GivenNames(), old_names.GivenNames()),
    (names.CuedNames(), old_names.CuedNames()),
    (names.NamesInTokens(), old_names.NamesInTokens()),
    (names.TitledNames(), old_names.TitledNames()),
    (names.ClosingNames(), old_names.ClosingNames()),
    (spoken.SpokenNumbers(), old_spoken.SpokenNumbers()),
    (spoken.SpokenDates(), old_spoken.SpokenDates()),
    (spoken.SpokenAddresses(), old_spoken.SpokenAddresses()),
    (identifiers.UkNationalInsurance(), old_identifiers.UkNationalInsurance()),
    (identifiers.PostcodeAddresses(), old_identifiers.PostcodeAddresses()),
    (identifiers.WholeEmails(), old_identifiers.WholeEmails()),
)
LANGUAGES: Final = (None, "nl", "fr", "en")


def _reference_recognisers(language: str | None) -> tuple[Any, ...]:
    """``recognisers.for_language`` with the reference's recognisers (the operator's
    customer numbers, unchanged, as configured)."""
    configured = next(r for r in recognisers.for_language(language)
                      if r.name == "customer_numbers")
    return (old_identifiers.WholeEmails(), configured,
            old_identifiers.UkNationalInsurance(), old_identifiers.PostcodeAddresses(),
            old_spoken.SpokenEmails(), old_spoken.SpokenDates(), old_spoken.SpokenAddresses(),
            old_spoken.SpokenNumbers(), old_names.TitledNames(), old_names.GivenNames(),
            old_names.CuedNames(), old_names.ClosingNames(), old_names.NamesInTokens())


def _parties(customer: tuple[str, str] | None) -> list[Party]:
    parties = [Party(PartyRole.TO, "support@example.com", AddressKind.EMAIL, None, Side.AGENT)]
    if customer is not None:
        parties.append(Party(PartyRole.FROM, customer[1], AddressKind.EMAIL, customer[0],
                             Side.CUSTOMER))
    return parties


def _found(findings: Iterable[Found]) -> list[tuple[int, int, str, bool]]:
    return [(f.start, f.end, f.category, f.absorb) for f in findings]


def _assert_same(text: str, parties: list[Party], language: str | None) -> None:
    """Each rewritten recogniser and ``propagate`` on the context the redactor gives them,
    then the whole redactor, against the references."""
    new = Redactor.for_parties(parties, language=language)
    spans = new.spans(text)
    taken = [(s.start, s.end, s.category) for s in spans]
    names_of = new._names  # the parties' names, as the redactor gives them its context
    for recogniser, reference in PAIRS:
        got = _found(recogniser.find(Context(text, language, names_of, taken)))
        want = _found(reference.find(Context(text, language, names_of, taken)))
        assert got == want, (recogniser.name, language, text)
    got = _found(names.propagate(Context(text, language, names_of, taken)))
    want = _found(old_names.propagate(Context(text, language, names_of, taken)))
    assert got == want, ("propagate", language, text)
    old = Redactor.for_parties(parties, language=language,
                               recognisers=_reference_recognisers(language))
    with pytest.MonkeyPatch.context() as patch:  # the redactor's propagate, the reference's
        patch.setattr("archive.anonymise.redactor.propagate", old_names.propagate)
        want_spans = old.spans(text)
    assert [(s.start, s.end, s.token, s.category) for s in spans] == [
        (s.start, s.end, s.token, s.category) for s in want_spans], (language, text)


def test_the_words_are_the_tokens_they_were() -> None:
    """``Context.tokens`` makes each ``Token`` on demand: the same words as before."""
    for text in ("Stra\u00dfe 12, l'adresse de Jean-Pierre O\u2019Brien",
                 "\u01c5 \u03a3 \u039f\u0394\u039f\u03a3 \u0131 \u0130 \ufb06",
                 corpus.documents()[0].text()):
        context = Context(text)
        low = text.casefold()
        want = [(m.start(), m.end(), m.group(),
                 m.group().casefold() if len(low) != len(text) else low[m.start():m.end()])
                for m in TOKEN_RE.finditer(text)]
        assert [tuple(t) for t in context.tokens] == want
        assert [tuple(t) for t in context.tokens[2:5]] == want[2:5]
        assert tuple(context.tokens[-1]) == want[-1]
        assert context.lows == [w[3] for w in want]


@pytest.mark.parametrize("doc", corpus.documents(), ids=lambda d: d.id)
def test_every_test_corpus_text_is_found_as_before(doc: corpus.Doc) -> None:
    customer = (doc.customer["name"], doc.customer["address"])
    texts = [doc.text(), doc.text().upper(), doc.text().lower()]
    texts += [u["text"] for u in doc.raw.get("utterances", [])]
    for text in texts:
        for language in (None, doc.lang):
            _assert_same(text, _parties(customer), language)
    _assert_same(doc.text(), _parties(None), doc.lang)


@pytest.mark.parametrize("lang", ["nl", "fr", "en"])
def test_every_labelled_corpus_text_is_found_as_before(lang: str) -> None:
    recognisers.configure(customer_numbers=[r"KL-?\d{7}", r"CT-\d{4}-\d{6}"])
    try:
        for doc in labelled.documents():
            if doc.lang != lang:
                continue
            parties = _parties((doc.customer_name, doc.customer_address))
            for text in (doc.text, doc.text.lower()):
                _assert_same(text, parties, doc.lang)
            _assert_same(doc.text, parties, None)
    finally:
        recognisers.configure()


def test_the_corpus_e_mails_repeated_to_64_kib_are_found_as_before() -> None:
    """The text the cost was measured on (``bench/bench_anonymise.py``)."""
    mails = "\n\n".join(d.text for d in labelled.documents() if d.kind == "email")
    text = (mails * 3)[:64 * 1024]
    _assert_same(text, _parties(("Customer 1", "customer1@customer.nl")), None)
    _assert_same(text, _parties(("Customer 1", "customer1@customer.nl")), "nl")


GIVEN: Final = ["Tom Baker", "Khadija El Amrani", "kees jansen", "Jean-Pierre Dubois",
                "Mark", "MAY", "May I", "Will you", "Sophie van der Berg", "Zoë Öztürk",
                "Sta\u00dfe M\u00fcller", "Y\u0131ld\u0131z Kaya"]
CUES: Final = ["mijn buurvrouw martine", "mon mari pascal", "my sister amy", "this is james",
               "u spreekt met linda", "c'est ahmed", "oliver speaking", "thomas à votre écoute",
               "hallo storing", "bonjour olivier", "Dear Mrs Smith", "hello", "through to Ben",
               "my name is\nBob", "mijn naam is mevrouw Jansen", "it's me", "Ahmed here",
               "sophie du service client", "kevin from customer services", "jan how can i"]
FILES: Final = ["deboer_factuur_nov.pdf", "IMG_meijer_kast.JPG", "a_b.pdf.c_d.pdf",
                "x-y.PDF-z_w.doc", "scan-Vries.jpeg", "martine_2024.png.", "..-_.pdf",
                "foto_an\u017fje.gif", "tom-baker.tiff", "volmacht_vos.pdf"]
NINOS: Final = ["JT 48 29 17 B", "jt482917b", "AB123456C", "QQ 12 34 56 D", "GB123456A",
                "AB 1234 56 C", "AB12 3456C", "A 12 34 56 B", "JT\t48\t29\t17\tA"]
ADDRESSES: Final = ["Meir 78, 2000 Antwerpen", "De Kiekendief 4, 9251 GP Burgum",
                    "Burgemeester Jansenlaan 30", "Lange Nieuwstraat 5", "Flat 3, 27 Harbour Way",
                    "apt. 4 12 High Street", "avenue de Tervueren 88 boîte 4", "12 Elm Grove",
                    "Kerkstraat 12 bus 3", "99999 Ab Cd Green", "Oude  Markt\t7a",
                    "\u00c9cole Veldstraat 1-3", "Unit 7, 1 Old Kent Row", "B-1000 Brussel"]
SPOKEN: Final = ["kastanjelaan vijftien", "douze rue des carmes", "seven church lane",
                 "zes twee drie vier a z", "k l four four one two", "six mille",
                 "the third of march nineteen ninety", "vingt et un juin quatre-vingt-cinq",
                 "drie maart negentienhonderd vijf", "jeroen punt bakker at gmail punt com",
                 "m dot hassan at gmail dot com", "a one two three", "y deux trois quatre",
                 "vijfentwintig en dertig", "twenty-one and two", "in maart", "le onze mars",
                 "nul zes een twee drie vier vijf zes zeven acht"]

CLOSINGS: Final = ["Cheers,\nBen", "Merci,\nSarah Dupont", "Thanks\nTom",
                   "Hello there\nCheers\nBen",
                   "Met vriendelijke groet,\n  Jan de Vries  ", "best wishes\nAnn-Marie O'Neill",
                   "\n", "\n\n", "Take care,\n\nMax", "Bien à vous,\r\nÉmile"]


@st.composite
def blocks(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return draw(written.blocks())
    table = {1: GIVEN, 2: CUES, 3: FILES, 4: NINOS, 5: ADDRESSES, 6: SPOKEN, 7: CLOSINGS}
    return draw(st.sampled_from(table[kind]))


@st.composite
def texts(draw: st.DrawFn) -> str:
    case: Callable[[str], str] = draw(st.sampled_from([str, str, str.lower, str.upper]))
    out = []
    for part in draw(st.lists(blocks(), min_size=1, max_size=30)):
        out.append(draw(st.sampled_from([str, str, str.lower, str.title]))(part))
        out.append(draw(st.sampled_from(written.SEPARATORS)))
    return case("".join(out))


CUSTOMERS: Final = st.one_of(st.none(), st.tuples(
    st.sampled_from([*written.NAMES, "Martine Jansen", "Tom Baker", "Pascal de Boer"]),
    st.sampled_from(written.EMAILS)))


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts(), customer=CUSTOMERS, language=st.sampled_from(LANGUAGES))
def test_generated_texts_are_found_as_before(text: str, customer: tuple[str, str] | None,
                                             language: str | None) -> None:
    _assert_same(text, _parties(customer), language)


@settings(max_examples=500, deadline=None)
@given(text=st.lists(st.sampled_from(
    [*"aAbBdDeEiIjJmMnNrRsStTuUvVzZ0129 \t\n-.,/()+@'_", "\u0131", "\u017f", "\u0130",
     "\u00e9", "\u00d7", "\u2019", "\u00df", "\u00b2", "\u212a", "pdf", ".pdf", "Mr ",
     "een ", "twee ", "drie ", "straat ", " laan 4", "Tom ", "Jansen"]), max_size=120).map(
    "".join), language=st.sampled_from(LANGUAGES))
def test_arbitrary_character_soup_is_found_as_before(text: str, language: str | None) -> None:
    _assert_same(text, _parties(("Tom Jansen", "tom@jansen.nl")), language)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(texts(), min_size=1, max_size=4), repeat=st.integers(20, 200))
def test_long_texts_are_found_as_before(parts: list[str], repeat: int) -> None:
    filler = ("Beste Martine, dank voor uw bericht over de factuur van maart. Cordialement, "
              "my sister Amy said 42 is fine.\n")
    text = filler * repeat
    step = max(1, len(text) // (len(parts) + 1))
    for i, part in enumerate(parts, 1):
        text = text[:i * step] + part + text[i * step:]
    _assert_same(text, _parties(("Martine Jansen", "martine@jansen.nl")), None)
