"""Recognisers of personal data beyond the written patterns, one small module each.

``spoken`` (numbers, dates, addresses and e-mail addresses said aloud), ``names``
(given names with their surnames, names announced by a cue word, names inside
file names, and every further occurrence of a name found once), ``identifiers``
(UK National Insurance numbers, the operator's customer and contract numbers,
addresses written without a street suffix, whole e-mail addresses). ``words``
holds their vocabulary per language.

``for_language`` gives the recognisers of an item's language (None: all
languages' words, the safe side). The operator's customer-number formats are
process-wide, set once by the composition root with ``configure`` from the
settings (``settings.anonymise.customer_numbers``), like the language detectors
of ``archive.language``. ``VERSION`` names the recognisers and their settings: a
cached anonymised view made by other recognisers is stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from archive.anonymise.recognisers.base import Context, Found, Recogniser
from archive.anonymise.recognisers.identifiers import (
    CustomerNumbers,
    PostcodeAddresses,
    UkNationalInsurance,
    WholeEmails,
)
from archive.anonymise.recognisers.names import (
    ClosingNames,
    CuedNames,
    GivenNames,
    NamesInTokens,
    TitledNames,
    propagate,
)
from archive.anonymise.recognisers.spoken import (
    SpokenAddresses,
    SpokenDates,
    SpokenEmails,
    SpokenNumbers,
)
from archive.anonymise.recognisers.words import LANGUAGES

#: Bumped whenever a recogniser changes what it finds.
RECOGNISERS_REVISION: Final = 1
_customer_numbers: CustomerNumbers = CustomerNumbers(())

__all__ = ["LANGUAGES", "Context", "Found", "Recogniser", "configure", "for_language",
           "propagate", "version"]


def configure(customer_numbers: Sequence[str] = ()) -> None:
    """Set the operator's customer and contract number formats (regular expressions,
    matched case-insensitively as whole tokens); a bad one is a ValueError naming it."""
    global _customer_numbers
    import re

    for pattern in customer_numbers:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"customer number pattern {pattern!r} is not a regular "
                             f"expression: {exc}") from None
    _customer_numbers = CustomerNumbers(customer_numbers)


def for_language(language: str | None) -> tuple[Recogniser, ...]:
    """The recognisers for an item in ``language`` (their words are the language's)."""
    return (WholeEmails(), _customer_numbers, UkNationalInsurance(), PostcodeAddresses(),
            SpokenEmails(), SpokenDates(), SpokenAddresses(), SpokenNumbers(),
            TitledNames(), GivenNames(), CuedNames(), ClosingNames(), NamesInTokens())


def version() -> str:
    """The recognisers' revision and the configured formats: part of a cached view's key."""
    digest = hashlib.sha256("\n".join(_customer_numbers.patterns).encode()).hexdigest()[:12]
    return f"{RECOGNISERS_REVISION}-{digest}"
