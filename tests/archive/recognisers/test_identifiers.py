"""UK National Insurance numbers, configured customer numbers, addresses without a
street suffix, whole e-mail addresses; and the recognisers' configuration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from archive.anonymise import recognisers
from tests.archive.recognisers.helpers import found, shown


def test_a_uk_national_insurance_number_is_an_identifier() -> None:
    assert ("JT 48 29 17 B", "national_id") in found("My NI number is JT 48 29 17 B.", "en")
    # a prefix no NI number has (BG, GB, ...) and a suffix beyond D are not one
    assert not any(c == "national_id"
                   for _, c in found("Ref GB 12 34 56 A and AB 12 34 56 E", "en"))


@pytest.fixture
def telecom_formats() -> Iterator[None]:
    recognisers.configure(customer_numbers=[r"KL-?\d{7}", r"CT-\d{4}-\d{6}"])
    yield
    recognisers.configure(customer_numbers=())


def test_customer_numbers_in_the_configured_formats(telecom_formats: None) -> None:
    text = "Klantnummer KL-4829103, contract CT-2023-018844, factuur F2025-113904."
    assert [(s, c) for s, c in found(text, "nl") if c == "customer_number"] == [
        ("KL-4829103", "customer_number"), ("CT-2023-018844", "customer_number")]
    assert "F2025-113904" in shown(text, "nl")


def test_without_configured_formats_a_customer_number_is_not_guessed() -> None:
    assert not any(c == "customer_number" for _, c in found("Klantnummer KL-4829103", "nl"))


def test_a_bad_customer_number_format_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"customer number pattern 'KL-\(' is not a regular"):
        recognisers.configure(customer_numbers=["KL-("])


def test_the_version_changes_with_the_configured_formats(telecom_formats: None) -> None:
    configured = recognisers.version()
    recognisers.configure(customer_numbers=())
    assert recognisers.version() != configured


@pytest.mark.parametrize(("text", "address"), [
    ("Lopez Design BV, Meir 78, 2000 Antwerp", "Meir 78"),
    ("verhuis naar De Kiekendief 4, 9251 GP Burgum", "De Kiekendief 4"),
    ("Hij woont aan de Burgemeester Jansenlaan 30, 4811 PC Breda.", "Burgemeester Jansenlaan 30"),
    ("my address is now Flat 3, 27 Harbour Way, Southampton", "Flat 3, 27 Harbour Way"),
    ("at 14 Elm Grove, London", "14 Elm Grove"),
])
def test_addresses_without_a_street_suffix_or_with_more_words(text: str, address: str) -> None:
    out = shown(text)
    assert not any(w in out for w in address.replace(",", "").split() if len(w) > 1)


def test_a_box_number_belongs_to_its_address() -> None:
    assert "boîte 4" not in shown("Adresse : avenue de Tervueren 88 boîte 4, 1040 Etterbeek.")


def test_an_email_address_is_redacted_whole_even_with_a_party_name_in_it() -> None:
    text = "Contact: o.masson@dupont-fils.be"
    out = shown(text, customer=("Philippe Dupont", "p.dupont@dupont-fils.be"))
    assert out == "Contact: [EMAIL]"


def test_the_language_picks_the_words() -> None:
    """Dutch number words are not read as numbers in an English item, and an item of
    unknown language gets every language's words (the safe side)."""
    text = "vijfentwintig dertig veertig"
    assert found(text, "en") == []
    assert found(text, "nl") == found(text, None) == [(text, "number_spoken")]


def test_the_settings_refuse_a_bad_customer_number_format_naming_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from commarchive.settings import Settings

    monkeypatch.setenv("COMMARCHIVE_ANONYMISE_CUSTOMER_NUMBERS", '["KL-\\\\d{7}", "CT-("]')
    with pytest.raises(ValidationError, match=r"customer number pattern 'CT-\(' is not"):
        Settings()
    monkeypatch.setenv("COMMARCHIVE_ANONYMISE_CUSTOMER_NUMBERS", '["KL-\\\\d{7}"]')
    monkeypatch.setenv("COMMARCHIVE_ANONYMISE_AUDIO", "silence")
    settings = Settings()
    assert settings.anonymise.customer_numbers == [r"KL-\d{7}"]
    assert settings.anonymise.audio == "silence"
