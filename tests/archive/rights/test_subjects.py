"""One end-to-end test per data-subject right, on a mixed archive of three subjects."""

from __future__ import annotations

from archive import rights
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
