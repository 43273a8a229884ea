"""What the recogniser tests share: the redacted pieces of a text, by category."""

from __future__ import annotations

from archive.anonymise import Redactor
from archive.model import AddressKind, Party, PartyRole, Side


def found(text: str, language: str | None = None,
          customer: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """(redacted text, category) of every span the item's redactor finds."""
    parties = [] if customer is None else [
        Party(PartyRole.FROM, customer[1], AddressKind.EMAIL, customer[0], Side.CUSTOMER)]
    redactor = Redactor.for_parties(parties, language=language)
    return [(text[s.start:s.end], s.category) for s in redactor.spans(text)]


def shown(text: str, language: str | None = None,
          customer: tuple[str, str] | None = None) -> str:
    parties = [] if customer is None else [
        Party(PartyRole.FROM, customer[1], AddressKind.EMAIL, customer[0], Side.CUSTOMER)]
    return Redactor.for_parties(parties, language=language).redact(text)
