"""Who is internal, and how e-mail addresses, SIP URIs and phone numbers are normalised.

The one place for these rules, used by the archive (data subjects, search
terms, identifiers a data subject gives us) and by every ingester (the side of
a call party, e-mail addresses), so a party is read the same way whichever
path it came by. The rules come from the archive's own configuration
(:class:`~archive.config.ArchiveConfig`: ``internal_domains``,
``internal_numbers``, ``internal_sip_domains``, ``default_region``).

Rules worth knowing:

* a domain is internal when it is a configured domain or a subdomain of one;
  a SIP URI's domain is compared without its port;
* an internal number entry with a ``+`` is an E.164 prefix; one without is
  matched against the number with or without its ``+`` (so ``3120555`` and
  ``1001`` work too); spaces in entries are ignored;
* a number from a PBX or SRC that starts with ``00`` is international,
  whatever the region; a number a person types is read in ``default_region``;
* SIP identifiers are lower-cased whole, e-mail addresses too.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

import phonenumbers

from archive.config import ArchiveConfig
from archive.model import AddressKind, Party, Side

__all__ = [
    "MAX_EMAIL_CHARS",
    "PartyAddress",
    "clean_line",
    "clean_text",
    "domain_matcher",
    "in_domains",
    "is_internal",
    "is_internal_address",
    "is_internal_number",
    "is_internal_sip",
    "is_subject",
    "national_digits",
    "normalise_email",
    "normalise_identifier",
    "normalise_number",
    "normalise_party_address",
    "search_terms",
    "sip_domain",
]

#: Longest e-mail address taken as one (RFC 5321's path limit plus a margin).
MAX_EMAIL_CHARS: Final = 320
_PHONE_CHARS: Final = re.compile(r"^\+?[0-9().\- ]{3,32}$")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


# -- domains -------------------------------------------------------------------------


def in_domains(domain: str, domains: Iterable[str]) -> bool:
    """``domain`` is one of ``domains`` or a subdomain of one (both already lower-case)."""
    return any(domain == d or domain.endswith("." + d) for d in domains)


def sip_domain(uri: str) -> str:
    """The host of a SIP URI (``sip:``/``sips:`` optional), lower-case and without port."""
    body = uri.strip()
    if body.lower().startswith(("sip:", "sips:")):
        body = body.split(":", 1)[1]
    # The user part may itself hold ';' or '?' (RFC 3261 user-unreserved): '@' first.
    host = body.rpartition("@")[2].split(";")[0].split("?")[0].lower()
    return host.split("]")[0] + "]" if host.startswith("[") else host.split(":")[0]


def is_internal_address(config: ArchiveConfig, address: str) -> bool:
    """An e-mail address of the company's own domains (or their subdomains)."""
    return in_domains(address.rpartition("@")[2].lower(), config.internal_domains)


def is_internal_sip(config: ArchiveConfig, uri: str) -> bool:
    """A SIP URI on one of the company's SIP domains; the port does not count."""
    return in_domains(sip_domain(uri), config.internal_sip_domains)


def is_internal_number(config: ArchiveConfig, number: str) -> bool:
    """A number (E.164, or bare digits for an extension) of the company's own lines."""
    for raw in config.internal_numbers:
        entry = raw.strip().replace(" ", "")
        if not entry:
            continue
        if entry.startswith("+"):
            if number.startswith(entry):
                return True
        elif number == entry or number.lstrip("+").startswith(entry):
            return True
    return False


# -- e-mail --------------------------------------------------------------------------


def normalise_email(address: str) -> str | None:
    """Lower-cased ``local@domain``, or None when it is not a plausible mailbox.

    Control characters become spaces (and so make it implausible); raw 8-bit
    bytes (surrogate-escaped) are read as UTF-8.
    """
    addr = clean_line(address, MAX_EMAIL_CHARS + 1).strip("<>").strip()
    if not addr or len(addr) > MAX_EMAIL_CHARS or any(c.isspace() for c in addr):
        return None
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or "@" in domain:
        return None
    if "@" in local and not (local.startswith('"') and local.endswith('"')):
        return None
    return f"{local}@{domain}".lower()


def domain_matcher(domains: Iterable[str]) -> Callable[[str], bool]:
    """``is_internal(address)`` for a list of e-mail domains (subdomains included).

    Unlike :func:`is_internal_address`, a trailing dot (``example.com.``) is
    ignored on both sides and blank entries are skipped: the SMTP ingester's
    reading of a mailbox list.
    """
    wanted = tuple(d.lower().strip().lstrip("@").rstrip(".") for d in domains if d.strip())

    def is_internal(address: str) -> bool:
        return in_domains(address.rpartition("@")[2].lower().rstrip("."), wanted)

    return is_internal


def clean_text(value: str) -> str:
    """Valid Unicode without NULs: raw 8-bit bytes (surrogate-escaped) are read as UTF-8."""
    try:
        text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        text = value.encode("utf-8", "replace").decode("utf-8")
    return text.replace("\x00", "")


def clean_line(value: str, limit: int) -> str:
    """One line of text for details and the index: no control characters, at most ``limit``."""
    return _CONTROL.sub(" ", clean_text(value)).strip()[:limit]


# -- phone numbers -------------------------------------------------------------------


def national_digits(number: phonenumbers.PhoneNumber) -> str:
    """A number as dialled inside its country, digits only (how agents often type it)."""
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(c for c in national if c.isdigit())


def _possible(raw: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_number(config: ArchiveConfig, raw: str) -> str | None:
    """E.164 form of a number a person typed (read in ``default_region``), or None."""
    number = _possible(raw, config.default_region)
    return _e164(number) if number is not None else None


def _pbx_number(text: str, region: str | None) -> tuple[str, tuple[str, ...]] | None:
    """E.164 and search variants of a number from a PBX/SRC (``00`` is international)."""
    candidate = text.strip()
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    if not re.sub(r"\D", "", candidate):
        return None
    number = _possible(candidate, None if candidate.startswith("+") else region)
    if number is None:
        return None
    e164 = _e164(number)
    national = national_digits(number)
    variants = [e164, e164.lstrip("+")]
    if national and national not in variants:
        variants.append(national)
    return e164, tuple(variants)


# -- call parties --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartyAddress:
    """A call party's address, normalised for comparing and for finding it again."""

    kind: AddressKind
    #: E.164 for numbers, ``sip:user@host`` for SIP, the raw text otherwise.
    address: str
    #: Every form worth finding it by.
    variants: tuple[str, ...]
    #: The SIP domain, without port (None for numbers and names).
    domain: str | None = None


def normalise_party_address(config: ArchiveConfig, raw: str) -> PartyAddress:
    """Read a SIP/tel URI, a number or a name (from a PBX or SRC) into a party address."""
    region = config.default_region or None
    text = raw.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    lower = text.lower()
    if lower.startswith("tel:"):
        number = text[4:].split(";")[0]
        found = _pbx_number(number, region)
        if found:
            return PartyAddress(AddressKind.PHONE, found[0], found[1])
        return PartyAddress(AddressKind.PHONE, number, (number,))
    if lower.startswith(("sip:", "sips:")):
        body = text.split(":", 1)[1].split(";")[0].split("?")[0]
        user, at, host = body.rpartition("@")
        if not at:
            user, host = "", body
        # Lower-cased whole, as a subject's SIP identifier is (normalise_identifier).
        host = host.lower()
        uri = f"sip:{user.lower()}@{host}" if user else f"sip:{host}"
        domain = sip_domain(uri)
        if user and _PHONE_CHARS.match(user):
            found = _pbx_number(user, region)
            if found:
                return PartyAddress(AddressKind.PHONE, found[0], (*found[1], uri), domain=domain)
        variants = (uri, user) if user else (uri,)
        return PartyAddress(AddressKind.SIP, uri, variants, domain=domain)
    if _PHONE_CHARS.match(text):
        found = _pbx_number(text, region)
        if found:
            return PartyAddress(AddressKind.PHONE, found[0], found[1])
        digits = re.sub(r"\D", "", text)
        return PartyAddress(AddressKind.PHONE, digits, (digits,))
    if "@" in text and " " not in text:
        user, _, host = text.rpartition("@")
        uri = f"sip:{user}@{host}".lower()
        return PartyAddress(AddressKind.SIP, uri, (uri, user), domain=sip_domain(uri))
    return PartyAddress(AddressKind.NAME, text, (text,))


def is_internal(config: ArchiveConfig, address: PartyAddress) -> bool:
    """A call party on the company's side: an internal SIP domain or number."""
    if address.domain and in_domains(address.domain, config.internal_sip_domains):
        return True
    return address.kind is AddressKind.PHONE and is_internal_number(config, address.address)


# -- data subjects -------------------------------------------------------------------


def is_subject(config: ArchiveConfig, party: Party) -> bool:
    """External parties are data subjects; the company's own agents are not."""
    if party.side is Side.CUSTOMER:
        return True
    if party.side is Side.AGENT:
        return False
    if party.kind is AddressKind.EMAIL:
        return not is_internal_address(config, party.address)
    if party.kind is AddressKind.PHONE:
        return not is_internal_number(config, party.address)
    if party.kind is AddressKind.SIP:
        return not is_internal_sip(config, party.address)
    return party.kind is AddressKind.CUSTOMER_NUMBER


def normalise_identifier(config: ArchiveConfig, raw: str) -> tuple[AddressKind, str]:
    """Normalise an identifier a data subject gives us: e-mail, phone, SIP URI, number."""
    value = raw.strip()
    lowered = value.lower()
    if lowered.startswith(("sip:", "sips:")):
        user = lowered.split(":", 1)[1].split(";")[0]
        number = (
            normalise_number(config, user.split("@")[0]) if user[:1] in "+0123456789" else None
        )
        return (AddressKind.PHONE, number) if number else (AddressKind.SIP, f"sip:{user}")
    if lowered.startswith("tel:"):
        number = normalise_number(config, value[4:].split(";")[0])
        if number:
            return AddressKind.PHONE, number
    if "@" in value and " " not in value:
        return AddressKind.EMAIL, lowered
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) >= 6 and all(c.isdigit() or c in "+-() ./" for c in value):
        number = normalise_number(config, value)
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
