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
