"""Regressions for an independent review: what search and item views may show, and to whom."""

from __future__ import annotations

from datetime import timedelta

import pytest

from archive import holds, rights
from archive.config import Role
from archive.errors import AccessDenied, ErrorCode
from archive.index import SearchQuery
from archive.retention import sweep
from archive.service import Archive
from archive.users import User
from tests.conftest import email_item
from tests.subjects import ORDERS_MAILBOX, T0

QUALITY = User("q", Role.QUALITY)


TRAINER = User("t", Role.TRAINER)


LEGAL = User("l", Role.LEGAL)


def test_a_subject_restriction_covers_their_items_archived_later(archive: Archive) -> None:
    archive.ingest(email_item(customer="quiet@klant.nl", body="first"))
    rights.restrict_subject(archive, "quiet@klant.nl", reason="accuracy contested",
                             actor="dpo")
    later = archive.ingest(email_item(customer="quiet@klant.nl", body="second walrus")).item_id
    assert archive.record(later).restricted
    with pytest.raises(AccessDenied) as err:
        archive.read_content(QUALITY, later)
    assert err.value.code is ErrorCode.RESTRICTED
    assert archive.search(QUALITY, SearchQuery(text="walrus")).result.total == 0
    rights.lift_restriction(archive, "quiet@klant.nl", actor="dpo", note="subject informed")
    after = archive.ingest(email_item(customer="quiet@klant.nl", body="third")).item_id
    assert not archive.record(after).restricted
    assert not archive.record(later).restricted


QUALITY = User("q", Role.QUALITY)


LEGAL = User("l", Role.LEGAL)


TRAINER = User("t", Role.TRAINER)


def _order(parch: Archive) -> str:
    new = email_item(body="Order: one router", agent=ORDERS_MAILBOX, started_at=T0)
    return parch.ingest(new).item_id


def test_a_subject_hold_covers_items_archived_after_it_at_once(archive: Archive) -> None:
    archive.ingest(email_item(customer="held@customer.nl"))
    hold = holds.place_hold(archive, actor="legal-1", reason="litigation", case_ref="C-9",
                            subject="held@customer.nl")
    later = archive.ingest(email_item(customer="held@customer.nl", body="arrived later")).item_id
    other = archive.ingest(email_item(customer="free@customer.nl")).item_id
    assert archive.record(later).held
    assert not archive.record(other).held
    assert later in holds.get_hold(archive, hold.id).item_ids
    # Held from the start: a sweep long after every retention end leaves it alone.
    report = sweep(archive, now=T0 + timedelta(days=20 * 365), actor="sweeper")
    assert later in report.held and later not in report.purged
    legal = User("l", Role.LEGAL)
    hits = archive.search(legal, SearchQuery(text="arrived later")).result.hits
    assert [h.item_id for h in hits] == [later]


def test_an_objection_covers_the_subjects_items_archived_later(parch: Archive) -> None:
    """Art. 21: once Anna objected, her new mail never carries quality or training keys."""
    import sqlalchemy as sa

    from archive import catalog as cat
    from archive.errors import InvalidRequest
    from archive.model import AddressKind, Party, PartyRole, Side

    anna, bob = "anna@customer.nl", "bob@other.nl"
    parch.ingest(email_item(customer=anna, body="first"))
    rights.object_subject(parch, anna, actor="dpo")
    # Ordinary support mail has no purpose left that Anna did not object to: not archived.
    with pytest.raises(InvalidRequest, match="objected"):
        parch.ingest(email_item(customer=anna, body="second walrus"))
    assert parch.search(QUALITY, SearchQuery(text="walrus")).result.total == 0
    # Her order mail keeps the legal purpose only; no key for quality or training exists.
    order = parch.ingest(email_item(customer=anna, agent=ORDERS_MAILBOX, body="order")).item_id
    assert parch.record(order).purpose_names == frozenset({"legal"})
    with parch.catalog.read() as conn:
        keys_left = {r[0] for r in conn.execute(sa.select(cat.wrapped_keys.c.purpose)
                                                .where(cat.wrapped_keys.c.item_id == order))}
    assert keys_left == {"legal"}
    with pytest.raises(AccessDenied):
        parch.read_content(QUALITY, order)
    # Bob's mail is untouched; Bob's order mail with Anna in copy: Anna is a party there.
    bobs = parch.ingest(email_item(customer=bob, body="bob")).item_id
    assert parch.record(bobs).purpose_names == frozenset({"quality", "training"})
    both = email_item(customer=bob, agent=ORDERS_MAILBOX, body="order for us both")
    both.parties.append(Party(PartyRole.CC, anna, AddressKind.EMAIL, "Anna", Side.CUSTOMER))
    assert parch.record(parch.ingest(both).item_id).purpose_names == frozenset({"legal"})
    # A mail that only mentions Anna is not hers: it keeps its purposes.
    mention = parch.ingest(email_item(customer=bob, body=f"ask {anna} too")).item_id
    assert parch.record(mention).purpose_names == frozenset({"quality", "training"})


def test_a_consent_withdrawal_of_one_purpose_covers_later_items(parch: Archive) -> None:
    bob = "bob@other.nl"
    parch.ingest(email_item(customer=bob, body="first"))
    rights.object_subject(parch, bob, actor="dpo", purposes=["training"], withdrawal=True)
    later = parch.ingest(email_item(customer=bob, body="second")).item_id
    assert parch.record(later).purpose_names == frozenset({"quality"})
    ingest = next(e for e in parch.audit.events(item_id=later) if e.action == "ingest")
    assert ingest.detail["objected"] == ["training"]


def test_a_dry_run_objection_does_not_stand(parch: Archive) -> None:
    bob = "bob@other.nl"
    rights.object_subject(parch, bob, actor="dpo", dry_run=True)
    later = parch.ingest(email_item(customer=bob, body="second")).item_id
    assert parch.record(later).purpose_names == frozenset({"quality", "training"})


def test_new_parties_of_a_redelivery_bring_their_standing_objection(parch: Archive) -> None:
    from archive.model import AddressKind, Party, PartyRole, Side

    anna = "anna@customer.nl"
    rights.object_subject(parch, anna, actor="dpo", purposes=["training"])
    first = email_item(customer="bob@other.nl", body="hello", message_id="<m1@x>")
    item_id = parch.ingest(first).item_id
    again = email_item(customer="bob@other.nl", body="hello", message_id="<m1@x>")
    again.parties.append(Party(PartyRole.CC, anna, AddressKind.EMAIL, "Anna", Side.CUSTOMER))
    assert parch.ingest(again).item_id == item_id
    assert parch.record(item_id).purpose_names == frozenset({"quality"})


def test_a_group_commit_refuses_only_the_objecting_subjects_item_and_leaves_no_blob(
    parch: Archive,
) -> None:
    from archive.errors import InvalidRequest

    rights.object_subject(parch, "anna@customer.nl", actor="dpo")
    blobs_before = set(parch.store.keys("items/"))
    results = parch.intake.ingest_many([
        email_item(customer="anna@customer.nl", body="mine " * 5000),  # sealed as a blob
        email_item(customer="bob@other.nl", body="his"),
    ])
    assert isinstance(results[0], InvalidRequest)
    assert not isinstance(results[1], Exception)
    bobs = results[1].item_id
    assert parch.record(bobs).purpose_names == frozenset({"quality", "training"})
    assert {k for k in set(parch.store.keys("items/")) - blobs_before
            if bobs not in k} == set()
