"""Consistent pseudonyms across one training set, keyed per set.

The anonymised view (``archive.anonymise``) decides WHAT is personal data in an
item; this module decides only what each redacted value is CALLED inside one
set: the same customer is ``Klant-7`` (or, with surrogates, the same made-up
name) in every item of the set, and the same phone number said in two calls is
the same ``Telefoon-2``. Values are recognised by their normalised text, keyed
with the set's secret (HMAC), so nothing of the original is kept and two sets,
with two secrets, number and name their people differently: they cannot be
joined on pseudonyms.

Parties are one person across items when they share a normalised address or
name (union-find over the set's parties), so the caller's number in a call and
the same customer's name in an e-mail meet.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from typing import Final

from archive.model import Party, Side
from archive.training import surrogates

#: How each category of redacted value is numbered when no surrogate is asked for.
LABELS: Final = {
    "CUSTOMER": "Klant", "AGENT": "Agent", "NAME": "Persoon", "PERSON": "Persoon",
    "EMAIL": "Email", "PHONE": "Telefoon", "ADDRESS": "Adres", "POSTCODE": "Postcode",
    "IBAN": "IBAN", "ID": "ID", "DATE": "Datum", "NUMBER": "Nummer",
    # The recognisers' categories (``archive.anonymise.CATEGORIES``), upper-cased.
    "DATE_OF_BIRTH": "Geboortedatum", "NATIONAL_ID": "ID", "CUSTOMER_NUMBER": "Klantnummer",
    "NUMBER_SPOKEN": "Nummer",
}
_TOKEN_RE: Final = re.compile(r"^\[([A-Z_]+?)(?:-\d+)?\]$")
_SQUASH_RE: Final = re.compile(r"[\W_]+")
MIN_NAME_PART: Final = 3


def category_of(token: str, category: str | None = None) -> str:
    """The category of a redaction token (``[EMAIL]``, ``[CUSTOMER-1]`` -> ``CUSTOMER``)."""
    if category:
        return category.upper()
    found = _TOKEN_RE.match(token)
    return found.group(1) if found else "OTHER"


def normalise(text: str) -> str:
    """Letters and digits only, case-folded; a Dutch or Belgian number in international
    form is written nationally, so ``+31 6 ...`` and ``06 ...`` are one value."""
    squashed = _SQUASH_RE.sub("", text.casefold())
    for prefix in ("0031", "31", "0032", "32"):
        if squashed.startswith(prefix) and squashed.isdigit() and len(squashed) == len(
                prefix) + 9:
            return "0" + squashed[len(prefix):]
    return squashed


class SetPseudonyms:
    """What each person and value of one set is called; numbered in order of first use,
    so rendering the set's items in their set order always gives the same names."""

    def __init__(self, secret: bytes, *, surrogates: bool = False) -> None:
        self._secret = secret
        self.surrogates = surrogates
        self._parent: dict[str, str] = {}
        self._side: dict[str, Side] = {}
        self._names: dict[str, str] = {}
        self._counters: dict[str, int] = {}

    def _mark(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def _digest(self, key: str) -> bytes:
        return hmac.new(self._secret, b"surrogate:" + key.encode(), hashlib.sha256).digest()

    def item_id(self, item_id: str) -> str:
        """An item's name in this set; unrelated to its archive id and to other sets."""
        return "T-" + self._mark("item:" + item_id)[:10]

    # -- parties ------------------------------------------------------------------

    def _find(self, key: str) -> str:
        self._parent.setdefault(key, key)
        while self._parent[key] != key:
            self._parent[key] = self._parent[self._parent[key]]
            key = self._parent[key]
        return key

    def _party_keys(self, party: Party) -> list[str]:
        keys = [self._mark("party:" + normalise(party.address))] if party.address else []
        if party.name and normalise(party.name):
            keys.append(self._mark("party:" + normalise(party.name)))
        return keys

    def add_parties(self, parties: Iterable[Party]) -> None:
        """Join each party's address and name into one person (before any naming)."""
        for party in parties:
            keys = self._party_keys(party)
            for key in keys:
                root = self._find(key)
                if party.side is Side.AGENT:
                    self._side[root] = Side.AGENT
            for other in keys[1:]:
                a, b = self._find(keys[0]), self._find(other)
                if a != b:
                    self._parent[b] = a
                    if self._side.get(b) is Side.AGENT:
                        self._side[a] = Side.AGENT

    def party_values(self, parties: Sequence[Party]) -> dict[str, str]:
        """Normalised written forms of these parties (address, name, name parts) -> the
        person they belong to: how a redacted span is recognised as a party."""
        values: dict[str, str] = {}
        for party in parties:
            keys = self._party_keys(party)
            if not keys:
                continue
            person = self._find(keys[0])
            forms = [party.address, party.name or ""]
            forms += [p for p in (party.name or "").split() if len(p) >= MIN_NAME_PART]
            for form in forms:
                if normalise(form):
                    values.setdefault(normalise(form), person)
        return values

    def person(self, person: str, language: str | None, *, as_email: bool = False,
               form: str = "full") -> str:
        """The pseudonym of a person (a root from :meth:`party_values`); with surrogates,
        ``form`` (``full``, ``first``, ``last``) is the part of the name that was said."""
        category = "AGENT" if self._side.get(person) is Side.AGENT else "CUSTOMER"
        if self.surrogates:
            digest = self._digest(person)
            if as_email:
                return surrogates.email(digest, language)
            return surrogates.person(digest, language, form)
        return self._numbered(category, person)

    # -- other values ---------------------------------------------------------------

    def value(self, category: str, original: str, language: str | None) -> str:
        """The pseudonym of a redacted value that is not a party."""
        key = self._mark(category + ":" + normalise(original))
        if not self.surrogates:
            return self._numbered(category, key)
        digest = self._digest(key)
        if category in ("NAME", "PERSON"):
            return surrogates.person(digest, language,
                                     "last" if len(original.split()) == 1 else "full")
        if category == "EMAIL":
            return surrogates.email(digest, language)
        if category == "ADDRESS":
            return surrogates.address(digest, language)
        if category == "DATE":
            return surrogates.date(digest, language)
        if category == "NUMBER":
            return surrogates.spoken_number(original, digest, language)
        return surrogates.reshape(original, digest)

    def _numbered(self, category: str, key: str) -> str:
        full = f"{category}:{key}"
        if full not in self._names:
            self._counters[category] = self._counters.get(category, 0) + 1
            label = LABELS.get(category, category.title())
            self._names[full] = f"{label}-{self._counters[category]}"
        return self._names[full]

    def render(self, name: str) -> str:
        """How a pseudonym appears in text: bracketed when it is a label (so a reader
        sees it was redacted), as is when it is a surrogate (so it reads naturally)."""
        return name if self.surrogates else f"[{name}]"
