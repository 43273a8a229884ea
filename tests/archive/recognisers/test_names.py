"""Names of people who are not parties: given names with surnames, cued names, names
inside file names, and every further occurrence of a name found once."""

from __future__ import annotations

import pytest

from tests.archive.recognisers.helpers import found, shown


def test_a_third_party_written_without_a_cue_is_found_with_the_surname() -> None:
    text = "Please liaise with our office manager, Priya Sharma, about the lines."
    assert ("Priya Sharma", "person") in found(text, "en")


def test_names_with_particles_and_hyphens() -> None:
    assert ("Khadija El Amrani", "person") in found("Mijn moeder, Khadija El Amrani, is "
                                                    "overleden.", "nl")
    assert ("Jean-Pierre Renard", "person") in found("Mon père, Jean-Pierre Renard, né le "
                                                     "3 avril 1938.", "fr")


def test_a_relative_of_a_party_is_found_beside_the_party() -> None:
    """"Geoffrey Hughes" where Hughes is the customer's surname: Geoffrey is redacted too."""
    text = "My husband, Geoffrey Hughes, passed away last month."
    out = shown(text, "en", customer=("Margaret Hughes", "m.hughes@talktalk.net"))
    assert "Geoffrey" not in out and "Hughes" not in out


@pytest.mark.parametrize(("text", "language", "name"), [
    ("goedemorgen u spreekt met linda van de klantenservice", "nl", "linda"),
    ("bonjour olivier service client", "fr", "olivier"),
    ("hi you're through to ben", "en", "ben"),
    ("de technieker kevin is niet gekomen", "nl", "kevin"),
    ("mon mari pascal a résilié l'option", "fr", "pascal"),
    ("good afternoon oliver speaking", "en", "oliver"),
])
def test_a_name_in_a_transcript_is_found_by_its_cue(text: str, language: str, name: str) -> None:
    assert name not in shown(text, language).split()


def test_common_words_in_a_transcript_are_not_taken_for_names() -> None:
    text = "ik ben zelf bereikbaar en ik heb een storing"
    assert found(text, "nl") == []
    assert found("hallo storing bij mij thuis", "nl") == []  # a greeting, then no name
    assert found("May I ask whether you will call back?", "en") == []


def test_a_title_with_initials_takes_the_whole_name() -> None:
    text = "Mijn schuldhulpverlener, mevrouw Y. Pinas van de gemeente, belt u."
    assert "Pinas" not in shown(text, "nl")
    assert "Van den Broeck" not in shown("for the attention of Mr Van den Broeck.", "en")


def test_the_name_under_a_closing_line() -> None:
    assert shown("Thanks for the help.\n\nCheers,\nBen\n", "en").rstrip().endswith("[NAME]")


def test_a_party_name_inside_a_file_name_is_redacted() -> None:
    text = "De volmacht zit als bijlage bij dit bericht (volmacht_vos.pdf)."
    out = shown(text, "nl", customer=("Erik Vos", "erik.vos@ziggo.nl"))
    assert "vos" not in out.casefold().replace("volmacht", "")
    out = shown("Zie deboer_factuur_nov.pdf", "nl", customer=("Pieter de Boer", "p@x.nl"))
    assert "deboer" not in out


def test_a_name_found_once_is_redacted_everywhere() -> None:
    text = "Mijn buurman Henk Wouters heeft ook geen internet. Wouters belt morgen."
    assert "Wouters" not in shown(text, "nl")
