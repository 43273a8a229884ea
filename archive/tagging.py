"""Which purposes a new item gets, and who its data subjects are."""

from __future__ import annotations

import contextlib
from datetime import datetime

import phonenumbers

from archive.config import ArchiveConfig, TaggingRule
from archive.model import AddressKind, NewItem, Party, PurposeTag, Side


def _matches(rule: TaggingRule, item: NewItem, config: ArchiveConfig) -> bool:
    if rule.channel is not None and item.channel is not rule.channel:
        return False
    if rule.direction is not None and item.direction is not rule.direction:
        return False
    emails = [p.address.lower() for p in item.parties if p.kind is AddressKind.EMAIL]
    if rule.party_domain is not None:
        dom = rule.party_domain.lower().lstrip("@")
        if not any(a.rpartition("@")[2] == dom or a.endswith("." + dom) for a in emails):
            return False
    if rule.party_number_prefix is not None:
        numbers = [p.address for p in item.parties if p.kind is AddressKind.PHONE]
        if not any(n.startswith(rule.party_number_prefix) for n in numbers):
            return False
    if rule.mailbox is not None:
        mailbox = rule.mailbox.lower()
        if not any(a == mailbox and config.is_internal_address(a) for a in emails):
            return False
    return True


def decide_purposes(config: ArchiveConfig, item: NewItem, now: datetime) -> list[PurposeTag]:
    """Union of the purposes of every matching rule, each with its own retention end.

    Retention runs from when the communication happened (never from a future
    date a sender claims).
    """
    names: list[str] = []
    for rule in config.rules:
        if _matches(rule, item, config):
            names.extend(p for p in rule.purposes if p not in names)
    base = min(item.started_at, now)
    return [PurposeTag(n, base + config.purpose(n).retention) for n in names]


def is_subject(config: ArchiveConfig, party: Party) -> bool:
    """External parties are data subjects; the company's own agents are not."""
    if party.side is Side.CUSTOMER:
        return True
    if party.side is Side.AGENT:
        return False
    if party.kind is AddressKind.EMAIL:
        return not config.is_internal_address(party.address)
    if party.kind is AddressKind.PHONE:
        return not config.is_internal_number(party.address)
    if party.kind is AddressKind.SIP:
        return not config.is_internal_sip(party.address)
    return party.kind is AddressKind.CUSTOMER_NUMBER


def normalise_identifier(config: ArchiveConfig, raw: str) -> tuple[AddressKind, str]:
    """Normalise an identifier a data subject gives us: e-mail, phone, SIP URI, number."""
    value = raw.strip()
    lowered = value.lower()
    if lowered.startswith(("sip:", "sips:")):
        user = lowered.split(":", 1)[1].split(";")[0]
        number = config.normalise_number(user.split("@")[0]) if user[:1] in "+0123456789" else None
        return (AddressKind.PHONE, number) if number else (AddressKind.SIP, f"sip:{user}")
    if lowered.startswith("tel:"):
        number = config.normalise_number(value[4:].split(";")[0])
        if number:
            return AddressKind.PHONE, number
    if "@" in value and " " not in value:
        return AddressKind.EMAIL, lowered
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) >= 6 and all(c.isdigit() or c in "+-() ./" for c in value):
        number = config.normalise_number(value)
        if number:
            return AddressKind.PHONE, number
    return AddressKind.CUSTOMER_NUMBER, value


def search_terms(config: ArchiveConfig, party: Party) -> list[str]:
    """Forms under which a party can be searched: address, name, number variants."""
    terms = [party.address]
    if party.name:
        terms.append(party.name)
    if party.kind is AddressKind.PHONE and party.address.startswith("+"):
        terms.append(party.address[1:])
        with contextlib.suppress(phonenumbers.NumberParseException):
            terms.append(national_digits(phonenumbers.parse(party.address, None)))
    return terms


def national_digits(number: phonenumbers.PhoneNumber) -> str:
    """A number as dialled inside its country, digits only (how agents often type it)."""
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(c for c in national if c.isdigit())
