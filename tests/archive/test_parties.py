"""Who is internal and how parties are normalised: one set of rules for archive and ingest."""

from __future__ import annotations

import pytest

from archive.config import ArchiveConfig
from archive.model import AddressKind, Party, PartyRole, Side
from archive.parties import (
    domain_matcher,
    is_internal,
    is_internal_address,
    is_internal_number,
    is_internal_sip,
    is_subject,
    normalise_email,
    normalise_identifier,
    normalise_number,
    normalise_party_address,
    search_terms,
    sip_domain,
)

PLAN = ArchiveConfig(
    default_region="NL", internal_numbers=("+3120555",), internal_sip_domains=("pbx.example.com",)
)


@pytest.mark.parametrize(
    ("raw", "kind", "address", "variants"),
    [
        (
            "sip:+31201234567@carrier.net;user=phone",
            AddressKind.PHONE,
            "+31201234567",
            {"+31201234567", "31201234567", "0201234567"},
        ),
        ("tel:+31-20-123-4567", AddressKind.PHONE, "+31201234567", {"0201234567"}),
        ("<sip:020 123 4567@pbx.example.com>", AddressKind.PHONE, "+31201234567", {"31201234567"}),
        ("0031201234567", AddressKind.PHONE, "+31201234567", {"+31201234567"}),
        ("sip:Alice@Example.COM", AddressKind.SIP, "sip:alice@example.com", {"Alice"}),
        ("sip:1001@pbx.example.com", AddressKind.SIP, "sip:1001@pbx.example.com", {"1001"}),
        ("Jan Jansen", AddressKind.NAME, "Jan Jansen", {"Jan Jansen"}),
    ],
)
def test_normalise_party_address(
    raw: str, kind: AddressKind, address: str, variants: set[str]
) -> None:
    got = normalise_party_address(PLAN, raw)
    assert (got.kind, got.address) == (kind, address)
    assert variants <= set(got.variants)


@pytest.mark.parametrize("raw", [
    "sip:agent7@pbx.example.com:5060", "<sip:agent7@PBX.example.com:5061;transport=tcp>",
    "sip:agent7@sub.pbx.example.com",
])
def test_an_agent_uri_with_a_port_is_still_internal(raw: str) -> None:
    # Ports are not part of the domain (as is_internal_sip reads it): an
    # agent must never become a data subject because the PBX added one.
    assert is_internal(PLAN, normalise_party_address(PLAN, raw))
    assert not is_internal(PLAN, normalise_party_address(PLAN, "sip:jan@customer.nl:5060"))




@pytest.mark.parametrize(
    ("uri", "domain"),
    [
        ("sip:agent7@PBX.example.com:5061;transport=tcp", "pbx.example.com"),
        ("sips:bob@pbx.example.com?subject=x", "pbx.example.com"),
        ("sip:+31201234567;phone-context=x@carrier.net", "carrier.net"),
        ("sip:bob@[2001:db8::1]:5060", "[2001:db8::1]"),
        ("sip:pbx.example.com:5060", "pbx.example.com"),
        ("agent@pbx.example.com:5060", "pbx.example.com"),
    ],
)
def test_sip_domain_is_the_lower_case_host_without_port_or_parameters(
    uri: str, domain: str
) -> None:
    assert sip_domain(uri) == domain


def test_internal_sip_uris_match_the_domain_and_its_subdomains_only() -> None:
    assert is_internal_sip(PLAN, "sip:agent7@pbx.example.com:5060")
    assert is_internal_sip(PLAN, "sip:agent7@eu.PBX.example.com")
    assert not is_internal_sip(PLAN, "sip:jan@notpbx.example.com")
    assert not is_internal_sip(PLAN, "sip:jan@customer.nl:5060")


@pytest.mark.parametrize(
    ("entries", "number", "internal"),
    [
        (("+3120555",), "+31205550123", True),
        (("+3120555",), "+31201234567", False),
        # Without '+' an entry matches the number with or without its '+'.
        (("3120555",), "+31205550123", True),
        (("3120555",), "3120555", True),
        # An extension is a whole number.
        (("1001",), "1001", True),
        (("1001",), "+31201001", False),
        # Spaces in an entry are ignored; blank entries match nothing.
        (("+31 20 555",), "+31205550123", True),
        ((" ", ""), "+31205550123", False),
        (("+3120555",), "3120555123", False),
    ],
)
def test_internal_number_entries_with_or_without_plus(
    entries: tuple[str, ...], number: str, internal: bool
) -> None:
    config = ArchiveConfig(internal_numbers=entries)
    assert is_internal_number(config, number) is internal


def test_a_call_party_is_internal_by_sip_domain_or_by_number() -> None:
    assert is_internal(PLAN, normalise_party_address(PLAN, "sip:+31205550123@carrier.net"))
    assert is_internal(PLAN, normalise_party_address(PLAN, "0205550123"))
    assert not is_internal(PLAN, normalise_party_address(PLAN, "sip:+31201234567@carrier.net"))
    # A name is never internal by itself (the sidecar has to say it is the agent).
    assert not is_internal(PLAN, normalise_party_address(PLAN, "Agent Seven"))


def test_pbx_numbers_starting_00_are_international_whatever_the_region() -> None:
    us = ArchiveConfig(default_region="US")
    got = normalise_party_address(us, "0031201234567")
    assert (got.kind, got.address) == (AddressKind.PHONE, "+31201234567")
    assert "0201234567" in got.variants  # national digits, as dialled in the Netherlands


def test_numbers_a_person_types_are_read_in_the_default_region() -> None:
    assert normalise_number(PLAN, "020 123 4567") == "+31201234567"
    assert normalise_number(ArchiveConfig(default_region="BE"), "02 123 45 67") == "+3221234567"
    assert normalise_number(PLAN, "12") is None
    assert normalise_number(PLAN, "not a number") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jan@Example.NL", (AddressKind.EMAIL, "jan@example.nl")),
        ("tel:+31-20-123-4567", (AddressKind.PHONE, "+31201234567")),
        ("SIP:+31201234567@carrier.net;user=phone", (AddressKind.PHONE, "+31201234567")),
        ("sip:Jan@Customer.NL", (AddressKind.SIP, "sip:jan@customer.nl")),
        ("020-123 4567", (AddressKind.PHONE, "+31201234567")),
        ("K-12345", (AddressKind.CUSTOMER_NUMBER, "K-12345")),
    ],
)
def test_normalise_identifier_a_data_subject_gives(
    raw: str, expected: tuple[AddressKind, str]
) -> None:
    assert normalise_identifier(PLAN, raw) == expected


def test_a_subject_identifier_matches_the_address_stored_for_a_call_party() -> None:
    # The same person, once as a call party and once as a request: the same address.
    for raw in ("sip:Jan@Customer.NL", "sip:+31201234567@carrier.net"):
        party = normalise_party_address(PLAN, raw)
        assert normalise_identifier(PLAN, raw) == (party.kind, party.address)


def test_is_subject_trusts_the_side_then_the_internal_rules() -> None:
    def party(address: str, kind: AddressKind, side: Side = Side.UNKNOWN) -> Party:
        return Party(PartyRole.PARTICIPANT, address, kind, side=side)

    assert is_subject(PLAN, party("agent@example.com", AddressKind.EMAIL, Side.CUSTOMER))
    assert not is_subject(PLAN, party("jan@customer.nl", AddressKind.EMAIL, Side.AGENT))
    assert not is_subject(PLAN, party("agent@sub.example.com", AddressKind.EMAIL))
    assert is_subject(PLAN, party("jan@customer.nl", AddressKind.EMAIL))
    assert not is_subject(PLAN, party("+31205550123", AddressKind.PHONE))
    assert is_subject(PLAN, party("+31201234567", AddressKind.PHONE))
    assert not is_subject(PLAN, party("sip:agent7@pbx.example.com:5060", AddressKind.SIP))
    assert is_subject(PLAN, party("sip:jan@customer.nl", AddressKind.SIP))
    assert is_subject(PLAN, party("K-1", AddressKind.CUSTOMER_NUMBER))
    assert not is_subject(PLAN, party("Jan", AddressKind.NAME))


def test_search_terms_of_a_phone_party_include_the_national_digits() -> None:
    jan = Party(PartyRole.CALLER, "+31201234567", AddressKind.PHONE, "Jan")
    assert search_terms(PLAN, jan) == ["+31201234567", "Jan", "31201234567", "0201234567"]
    mail = Party(PartyRole.FROM, "jan@customer.nl", AddressKind.EMAIL)
    assert search_terms(PLAN, mail) == ["jan@customer.nl"]


def test_internal_email_addresses_match_domains_and_subdomains() -> None:
    config = ArchiveConfig(internal_domains=("example.com",))
    assert is_internal_address(config, "Agent@Example.COM")
    assert is_internal_address(config, "agent@eu.example.com")
    assert not is_internal_address(config, "jan@notexample.com")
    assert not is_internal_address(config, "jan@example.com.evil.nl")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jan@Example.COM", "jan@example.com"),
        ("<jan@example.com>", "jan@example.com"),
        ('"a@b"@example.com', '"a@b"@example.com'),
        ("jan @example.com", None),
        ("jan\x00@example.com", "jan@example.com"),
        ("jan\n@example.com", None),
        ("jan@", None),
        ("@example.com", None),
        ("a@b@example.com", None),
        ("x" * 310 + "@example.com", None),
    ],
)
def test_normalise_email(raw: str, expected: str | None) -> None:
    assert normalise_email(raw) == expected


def test_domain_matcher_ignores_trailing_dots_blank_entries_and_at_signs() -> None:
    internal = domain_matcher(["@Example.com.", " "])
    assert internal("agent@example.com")
    assert internal("agent@mail.EXAMPLE.com.")
    assert not internal("jan@customer.nl")
    assert not internal("jan@")
