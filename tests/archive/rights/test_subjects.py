"""One end-to-end test per data-subject right, on a mixed archive of three subjects."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from archive import holds, rights
from archive.config import ArchiveConfig, load_config
from archive.errors import ConfigError, InvalidRequest
from archive.rights.subjects import parse_identifier
from tests.subjects import A, B, C, Mixed


def test_lookup_finds_party_items_by_every_identifier_and_mentions(mixed: Mixed) -> None:
    arc = mixed.archive
    a_items = set(mixed.items[A.email])
    by_mail = rights.find_subject(arc, "Anna@Customer.NL")
    assert by_mail.identifier == A.email
    by_phone = rights.find_subject(arc, "06 12345678")
    assert by_phone.identifier == A.phone
    by_number = rights.find_subject(arc, A.customer_number)
    assert set(by_mail.party_items) | set(by_phone.party_items) | set(by_number.party_items) \
        == a_items - set(mixed.items["mention"])
    assert set(by_number.mention_items) == set(mixed.items["mention"])
    b_and_c = set(mixed.items[B.email]) | set(mixed.items[C.email])
    for match in (by_mail, by_phone, by_number):
        assert not set(match.item_ids) & b_and_c


BAD_IDENTIFIERS = ["2026", "jansen", "K-", "anna@", "sip:", "tel:12"]


def test_an_identifier_that_is_no_address_number_or_customer_number_is_refused(
    mixed: Mixed,
) -> None:
    """A bare year or surname would match half the archive by mention: refused, by name."""
    arc = mixed.archive
    before = len(arc.audit.events())
    calls = {
        "find": lambda ident: rights.find_subject(arc, ident),
        "overview": lambda ident: rights.subject_overview(arc, ident, actor="dpo"),
        "export": lambda ident: rights.export_subject(arc, ident, io.BytesIO(), actor="dpo"),
        "erase": lambda ident: rights.erase_subject(arc, ident, actor="dpo"),
        "restrict": lambda ident: rights.restrict_subject(arc, ident, actor="dpo",
                                                          reason="contested"),
        "object": lambda ident: rights.object_subject(arc, ident, actor="dpo"),
        "hold": lambda ident: holds.place_hold(arc, actor="legal", reason="claim",
                                               case_ref="C-1", subject=ident),
    }
    for name, call in calls.items():
        for bad in BAD_IDENTIFIERS:
            with pytest.raises(InvalidRequest) as err:
                call(bad)
            assert err.value.code == "invalid_request", name
            assert repr(bad) in str(err.value), name
            assert "customer number" in str(err.value), name
        # One bad identifier among good ones is refused too.
        with pytest.raises(InvalidRequest):
            call([A.email, "jansen"])
    assert len(arc.audit.events()) == before  # nothing happened, nothing to audit
    for good in (A.email, "06 12345678", "sip:0612345678@pbx.example.com", "tel:+31612345678",
                 A.customer_number, A.customer_number.lower()):
        assert rights.find_subject(arc, good).item_ids, good
    assert rights.find_subject(arc, "sip:anna@customer.nl").kind.value == "sip"


def test_customer_number_patterns_come_from_the_configuration(tmp_path: Path) -> None:
    config = ArchiveConfig(customer_number_patterns=(r"CU\d{6}",))
    assert parse_identifier(config, "CU123456")[1] == "CU123456"
    with pytest.raises(InvalidRequest, match="CU"):
        parse_identifier(config, "K-1001")
    (tmp_path / "archive.toml").write_text('customer_number_patterns = ["K-("]\n')
    with pytest.raises(ConfigError, match="customer_number_patterns"):
        load_config(tmp_path)
