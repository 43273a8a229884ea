"""The fixed set of categories of personal data, and the token each is shown as.

Every ``Span`` carries one of ``CATEGORIES`` so that a training set's manifest can
count what was redacted per category and the evaluation can score each
recogniser. The token is what a trainer reads in place of the value; a party of
the item is shown as its pseudonym (``[CUSTOMER-1]``) instead, so a trainer can
still follow who said what.
"""

from __future__ import annotations

import re
from typing import Final

#: category -> the token that replaces a value of it.
TOKENS: Final = {
    "person": "[NAME]",
    "address": "[ADDRESS]",
    "postcode": "[POSTCODE]",
    "iban": "[IBAN]",
    "phone": "[PHONE]",
    "email": "[EMAIL]",
    "national_id": "[ID]",  # BSN, Belgian national register, UK NI number, French NIR
    "date_of_birth": "[DATE]",
    "date": "[DATE]",  # a date with no cue that it is a birth date
    "customer_number": "[CUSTOMER-NUMBER]",
    "number_spoken": "[NUMBER]",  # digits said as words (or written) in a transcript
}
CATEGORIES: Final = frozenset(TOKENS)
#: The tokens of the written patterns, and their categories.
CATEGORY_OF_TOKEN: Final = {"[EMAIL]": "email", "[IBAN]": "iban", "[ADDRESS]": "address",
                            "[ID]": "national_id", "[DATE]": "date", "[POSTCODE]": "postcode",
                            "[PHONE]": "phone", "[NUMBER]": "number_spoken", "[NAME]": "person",
                            "[CUSTOMER-NUMBER]": "customer_number"}


def party_category(value: str) -> str:
    """The category of a party's written form: its e-mail address, number or name."""
    if "@" in value:
        return "email"
    return "phone" if sum(c.isdigit() for c in value) >= 6 else "person"


#: Words that, shortly before a date, make it a date of birth.
BIRTH_CUE_RE: Final = re.compile(
    r"(?i:geboren|geboortedatum|geb\.|born|birth|dob|d\.o\.b|né|née|naissance)")
