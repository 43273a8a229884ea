"""The words the recognisers know, per language: numbers said aloud, function words,
cues before and after a name, given names.

A transcript is lowercase words with numbers written out ("nul zes twee ...",
"zéro six douze trente-quatre", "oh six one four"), so the recognisers of spoken
numbers, addresses and names work on words, and which words depends on the
language. ``LANGUAGES`` are the ones known; an item in another language, or in
none yet, gets all of them (over-redaction is the safe side).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Final

LANGUAGES: Final = ("nl", "fr", "en")

_DIGITS: Final = {
    "nl": "nul een één twee drie vier vijf zes zeven acht negen",
    "fr": "zéro zero un une deux trois quatre cinq six sept huit neuf",
    "en": "zero oh o one two three four five six seven eight nine",
}
_TEENS_TENS: Final = {
    "nl": "tien elf twaalf dertien veertien vijftien zestien zeventien achttien negentien "
          "twintig dertig veertig vijftig zestig zeventig tachtig negentig honderd duizend "
          "dubbel",
    "fr": "dix onze douze treize quatorze quinze seize vingt vingts trente quarante "
          "cinquante soixante septante octante huitante nonante cent cents mille",
    "en": "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen "
          "twenty thirty forty fifty sixty seventy eighty ninety hundred thousand double "
          "triple",
}
#: Words that make a number large enough to be an identifier on its own ("six mille").
THOUSANDS: Final = frozenset({"mille", "duizend", "thousand"})
#: Dutch compounds: "vijfentwintig", "drieëntwintig", "negentienhonderd".
_NL_COMPOUND: Final = re.compile(
    r"(?:een|twee|drie|vier|vijf|zes|zeven|acht|negen)[eë]n(?:twintig|dertig|veertig|vijftig|"
    r"zestig|zeventig|tachtig|negentig)|\w+(?:honderd|duizend)")
_ORDINALS: Final = {
    "nl": "eerste tweede derde vierde vijfde zesde zevende achtste negende tiende elfde "
          "twaalfde dertiende veertiende vijftiende zestiende zeventiende achttiende "
          "negentiende twintigste dertigste eenendertigste",
    "fr": "premier première",
    "en": "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
          "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
          "twentieth thirtieth",
}
MONTHS: Final = {
    "nl": "januari februari maart april mei juni juli augustus september oktober november "
          "december",
    "fr": "janvier février fevrier mars avril mai juin juillet août aout septembre octobre "
          "novembre décembre decembre",
    "en": "january february march april may june july august september october november "
          "december",
}
#: Function words and common words: never a name, and where a name stops.
_STOP: Final = {
    "nl": "de het een en of ik je jij u uw hij zij ze wij we jullie mijn zijn haar hun ons "
          "onze is ben bent was waren heb hebt heeft hebben had kan kunt kunnen wil wilt "
          "willen zou zal moet mag niet geen wel ook nog al dan dat die dit deze er hier daar "
          "waar wat wie hoe met van voor naar op in aan bij uit om over door tot te als maar "
          "want dus ja nee hoor even graag dank bedankt goed prima oke oké hallo hoi dag "
          "goedemorgen goedemiddag goedenavond goedendag goeiedag klantenservice klantendienst "
          "spreekt spreek bel belt heet woont woon staat gaat komt zelf alleen samen beste "
          "geachte hierbij verder groet groeten",
    "fr": "le la les l un une des du de d et ou je tu il elle on nous vous ils elles mon "
          "ma mes ton ta son sa ses notre votre leur est suis es sont était ai as a ont avait "
          "peut peux veux veut ne pas plus que qui quoi où comment avec pour par sur dans en "
          "au aux ce cet cette ces ici là oui non merci bien bonjour bonsoir service client "
          "clients m'a m'appelle c'est s'il n'ai j'ai écoute appareil madame monsieur très trop "
          "désolé désolée noté fâché fâchée content contente parfait exact tout possible "
          "depuis hier aujourd'hui demain là-bas d'accord à",
    "en": "the a an and or i you he she it we they my your his her its our their me him "
          "us them is am are was were be been have has had do does did can could will would "
          "shall should may might must not no yes with of for to from in on at by about as "
          "but so if then than that this these those here there what who how hello hi hey "
          "good morning afternoon evening thanks thank please speaking through customer "
          "services service calling call just also too you're i'm it's what's that's didn't "
          "don't doesn't can't won't we're they're i've i'll sorry sure fine ok okay sir madam "
          "team all there everyone",
}
#: Given names that are also common words: a name only when written with a capital
#: in a cased text, or after a cue ("met mark", "mark speaking").
AMBIGUOUS_NAMES: Final = frozenset(
    ["ben", "bas", "mark", "will", "may", "june", "april", "august", "grace", "rose", "iris",
    "fleur", "claire", "pierre", "jan", "dean", "guy", "frank", "roos", "hope", "faith", "joy",
    "sky", "summer", "art", "ray", "bill", "pat", "jack", "max", "nancy", "said", "victor",
    "olivier", "pascal", "constant", "lieve", "justin", "louis", "trees", "kim", "noor", "roger"])


def _split(values: dict[str, str], language: str | None) -> frozenset[str]:
    langs = LANGUAGES if language not in LANGUAGES else (language,)
    return frozenset(w for lang in langs for w in values[lang].split())


@functools.cache
def number_words(language: str | None) -> frozenset[str]:
    return _split(_DIGITS, language) | _split(_TEENS_TENS, language)


@functools.cache
def ordinals(language: str | None) -> frozenset[str]:
    return _split(_ORDINALS, language)


@functools.cache
def months(language: str | None) -> frozenset[str]:
    return _split(MONTHS, language)


@functools.cache
def stop_words(language: str | None) -> frozenset[str]:
    return _split(_STOP, language)


def is_number_word(token: str, language: str | None) -> bool:
    """A number said as a word, hyphenated French and English compounds included
    ("soixante-dix-huit", "twenty-one", "vingt-et-un") and Dutch ones ("vijfentwintig")."""
    known = number_words(language)
    if token in known:
        return True
    parts = token.split("-")
    if len(parts) > 1 and all(p in known or p == "et" for p in parts if p):
        return True
    return language in (None, "nl") and bool(_NL_COMPOUND.fullmatch(token))


@functools.cache
def first_names() -> frozenset[str]:
    """The given names of ``first_names.txt`` (lowercase)."""
    text = (Path(__file__).parent / "first_names.txt").read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() if not line.startswith("#")
                     for w in line.split())


def is_first_name(token: str) -> bool:
    """A known given name, or a hyphenated one made of them ("jean-pierre")."""
    names = first_names()
    low = token.casefold()
    return low in names or ("-" in low and all(p in names for p in low.split("-") if p))


def words_of(values: Iterable[str]) -> frozenset[str]:
    return frozenset(w for v in values for w in v.split())
