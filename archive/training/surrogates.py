"""Realistic stand-ins for redacted values, chosen deterministically from a keyed digest.

A surrogate keeps the shape of what it replaces (a Dutch, French or English
name; an e-mail address; a phone number, postcode or IBAN with the original's
digits and separators in place) so training material reads naturally, while
every letter and digit of the value comes from the set's secret, never from
the original. Which surrogate a value gets depends only on the digest the
caller passes, so the same person gets the same stand-in throughout one set.
"""

from __future__ import annotations

from typing import Final

FIRST_NAMES: Final = {
    "nl": ("Sanne", "Daan", "Lotte", "Bram", "Femke", "Joost", "Anouk", "Ruben", "Ilse", "Thijs",
           "Marloes", "Koen", "Esther", "Wouter", "Nienke", "Sander", "Eline", "Jeroen"),
    "fr": ("Camille", "Julien", "Manon", "Théo", "Élodie", "Hugo", "Chloé", "Louis", "Inès",
           "Mathis", "Léa", "Antoine", "Sarah", "Nicolas", "Pauline", "Maxime", "Lucie", "Arthur"),
    "en": ("Olivia", "Harry", "Amelia", "Jack", "Isla", "George", "Emily", "Oscar", "Ava",
           "Charlie", "Grace", "Thomas", "Lily", "James", "Sophie", "William", "Ella", "Henry"),
}
LAST_NAMES: Final = {
    "nl": ("Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Dekker", "Peters",
           "Hendriks", "van Leeuwen", "Brouwer", "de Graaf", "van der Linden", "Kok", "Jacobs"),
    "fr": ("Martin", "Bernard", "Dubois", "Durand", "Lefèbvre", "Moreau", "Laurent", "Simon",
           "Michel", "Garnier", "Fontaine", "Rousseau", "Vincent", "Muller", "Girard", "Mercier"),
    "en": ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
           "Evans", "Walker", "Wright", "Thompson", "Roberts", "Hughes", "Green", "Clarke"),
}
STREETS: Final = {
    "nl": ("Lindelaan", "Kastanjestraat", "Molenweg", "Beukenplein", "Wilgenhof", "Eikendreef"),
    "fr": ("rue des Tilleuls", "avenue du Parc", "rue de la Gare", "chemin des Vignes",
           "place du Marché", "rue des Écoles"),
    "en": ("Oak Street", "Mill Road", "Church Lane", "Station Road", "Park Avenue",
           "Meadow Close"),
}
TOWNS: Final = {"nl": ("Zandvoort", "Amersfoort", "Gent", "Leuven", "Breda", "Hasselt"),
                "fr": ("Namur", "Liège", "Mons", "Arlon", "Wavre", "Tournai"),
                "en": ("Reading", "York", "Bath", "Derby", "Leeds", "Exeter")}
MONTHS: Final = {"nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli",
                        "augustus", "september", "oktober", "november", "december"),
                 "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                        "septembre", "octobre", "novembre", "décembre"),
                 "en": ("January", "February", "March", "April", "May", "June", "July",
                        "August", "September", "October", "November", "December")}
#: Spoken digits per language, for numbers said aloud in a transcript.
DIGIT_WORDS: Final = {"nl": ("nul", "een", "twee", "drie", "vier", "vijf", "zes", "zeven",
                             "acht", "negen"),
                      "fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept",
                             "huit", "neuf"),
                      "en": ("zero", "one", "two", "three", "four", "five", "six", "seven",
                             "eight", "nine")}


def _lang(language: str | None) -> str:
    return language if language in FIRST_NAMES else "nl"


def _pick(options: tuple[str, ...], digest: bytes, at: int) -> str:
    return options[int.from_bytes(digest[at:at + 2], "big") % len(options)]


def person(digest: bytes, language: str | None, form: str = "full") -> str:
    """A made-up name; ``form`` ``first`` or ``last`` gives only that part, for a
    redacted span that was only a first name or only a surname."""
    lang = _lang(language)
    first, last = _pick(FIRST_NAMES[lang], digest, 0), _pick(LAST_NAMES[lang], digest, 2)
    return first if form == "first" else last if form == "last" else f"{first} {last}"


def email(digest: bytes, language: str | None) -> str:
    """An address at a reserved domain (RFC 2606), so it can never reach anyone."""
    name = person(digest, language).lower().replace(" ", ".")
    return f"{name.replace('é', 'e').replace('è', 'e').replace('ï', 'i')}@example.org"


def reshape(original: str, digest: bytes) -> str:
    """The original's shape (separators, letter/digit positions, a leading ``+`` and
    country code), every digit and letter drawn from ``digest``."""
    out: list[str] = []
    at = 0
    # Kept: a country code (``+31``, an IBAN's ``NL``), a national number's leading 0.
    iban = original[:2].isalpha() and original[2:4].isdigit() and len(original) >= 15
    keep = 3 if original.startswith("+") else 2 if iban else 0
    for i, ch in enumerate(original):
        if i < keep or (ch == "0" and not any(c.isalnum() for c in original[:i])):
            out.append(ch)
        elif ch.isdigit() or ch.isalpha():
            byte = digest[at % len(digest)] ^ (at // len(digest)) * 31
            at += 1
            if ch.isdigit():
                out.append(str(byte % 10))
            else:
                letter = chr(ord("A") + byte % 26)
                out.append(letter if ch.isupper() else letter.lower())
        else:
            out.append(ch)
    return "".join(out)


def address(digest: bytes, language: str | None) -> str:
    lang = _lang(language)
    number = 1 + int.from_bytes(digest[4:6], "big") % 180
    street = _pick(STREETS[lang], digest, 6)
    return f"{number} {street}" if lang != "nl" else f"{street} {number}"


def date(digest: bytes, language: str | None) -> str:
    lang = _lang(language)
    day = 1 + digest[8] % 28
    month = _pick(MONTHS[lang], digest, 9)
    year = 1940 + digest[11] % 60
    return f"{month} {day}, {year}" if lang == "en" else f"{day} {month} {year}"


def spoken_number(original: str, digest: bytes, language: str | None) -> str:
    """As many spoken digits as the original had words."""
    words = DIGIT_WORDS[_lang(language)]
    count = max(1, len(original.split()))
    return " ".join(words[digest[i % len(digest)] % 10] for i in range(count))


def town(digest: bytes, language: str | None) -> str:
    return _pick(TOWNS[_lang(language)], digest, 12)
