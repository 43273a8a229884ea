"""Numbers, dates, addresses and e-mail addresses said aloud, as a transcript writes them."""

from __future__ import annotations

import pytest

from tests.archive.recognisers.helpers import found, shown


@pytest.mark.parametrize(("text", "language", "secret"), [
    ("mijn nummer is nul zes twee negen drie acht vier zeven vijf zes", "nl",
     "nul zes twee negen drie acht vier zeven vijf zes"),
    ("c'est le zéro six douze trente-quatre cinquante-six soixante-dix-huit merci", "fr",
     "zéro six douze trente-quatre cinquante-six soixante-dix-huit"),
    ("it's k l four four one zero nine eight two", "en", "k l four four one zero nine eight two"),
    ("de postcode is vijf zes een twee a z", "nl", "vijf zes een twee a z"),
    ("le code postal c'est six mille", "fr", "six mille"),
])
def test_a_number_read_out_is_redacted_whole(text: str, language: str, secret: str) -> None:
    assert (secret, "number_spoken") in found(text, language)
    assert not any(w in shown(text, language).split() for w in secret.split() if len(w) > 2)


def test_amounts_and_times_said_aloud_stay() -> None:
    text = "ik zie een bedrag van zevenentachtig euro en de monteur komt om twee uur"
    assert found(text, "nl") == []


@pytest.mark.parametrize(("text", "language", "date"), [
    ("his birthday was the third of march nineteen ninety ok", "en",
     "the third of march nineteen ninety"),
    ("née le vingt et un juin quatre-vingt-cinq voilà", "fr",
     "le vingt et un juin quatre-vingt-cinq"),
    ("geboren drie maart negentienhonderd vijfendertig", "nl",
     "drie maart negentienhonderd vijfendertig"),
])
def test_a_date_said_aloud_is_one_span_and_a_birth_date_when_cued(
        text: str, language: str, date: str) -> None:
    spans = found(text, language)
    assert [s for s, _ in spans] == [date]
    assert spans[0][1] in ("date", "date_of_birth")
    if any(cue in text for cue in ("née", "geboren", "birthday")):
        assert spans[0][1] == "date_of_birth" or "birthday" in text


def test_a_month_alone_is_no_date() -> None:
    assert found("we verhuizen in maart", "nl") == []


@pytest.mark.parametrize(("text", "language", "address"), [
    ("ik woon op de kastanjelaan vijftien in eindhoven", "nl", "kastanjelaan vijftien"),
    ("j'habite douze rue des carmes à liège", "fr", "douze rue des carmes"),
    ("is that at seven church lane", "en", "seven church lane"),
])
def test_a_street_with_its_number_said_aloud_is_an_address(
        text: str, language: str, address: str) -> None:
    assert (address, "address") in found(text, language)


@pytest.mark.parametrize("text", ["stuur het naar jeroen punt bakker at gmail punt com graag",
                                  "my email is m dot hassan at gmail dot com thanks"])
def test_an_email_address_read_out_is_redacted(text: str) -> None:
    spans = found(text)
    assert any(c == "email" and "at gmail" in s for s, c in spans)
    assert "gmail" not in shown(text)
