"""Retention per purpose, with the sweeper's clock moved forward."""

from __future__ import annotations

from datetime import timedelta

import pytest

from archive import holds
from archive.config import Role
from archive.errors import AccessDenied, ItemNotFound
from archive.index import SearchQuery
from archive.retention import sweep
from archive.service import Archive
from archive.users import User
from tests.conftest import email_item
from tests.subjects import ORDERS_MAILBOX, T0

QUALITY = User("q", Role.QUALITY)


LEGAL = User("l", Role.LEGAL)


TRAINER = User("t", Role.TRAINER)


def _order(parch: Archive) -> str:
    new = email_item(body="Order: one router", agent=ORDERS_MAILBOX, started_at=T0)
    return parch.ingest(new).item_id


def test_quality_loses_access_exactly_at_quality_end_and_legal_keeps_it_until_its_own(
    parch: Archive,
) -> None:
    item = _order(parch)
    quality_end = T0 + parch.config.purpose("quality").retention
    legal_end = T0 + parch.config.purpose("legal").retention

    report = sweep(parch, now=quality_end - timedelta(seconds=1))
    assert report.dropped == [] and report.purged == []
    assert parch.read_content(QUALITY, item).purpose == "quality"

    report = sweep(parch, now=quality_end)
    assert report.dropped == [(item, "quality")]
    with pytest.raises(AccessDenied):
        parch.read_content(QUALITY, item)
    assert parch.read_content(LEGAL, item).purpose == "legal"
    assert parch.search(QUALITY, SearchQuery(text="router")).result.total == 0
    assert parch.search(LEGAL, SearchQuery(text="router")).result.total == 1

    sweep(parch, now=legal_end - timedelta(seconds=1))
    assert parch.read_content(LEGAL, item).purpose == "legal"
    assert parch.record(item).purpose_names == frozenset({"legal"})

    report = sweep(parch, now=legal_end)
    assert report.purged == [item]
    with pytest.raises(ItemNotFound) as err:
        parch.record(item)
    assert err.value.gone
    assert parch.search(LEGAL, SearchQuery(text="router")).result.total == 0
    assert not any(item in k for k in parch.store.keys("items/"))


def test_dry_run_reports_without_changing_anything(parch: Archive) -> None:
    item = parch.ingest(email_item(started_at=T0)).item_id
    later = T0 + timedelta(days=400)
    report = sweep(parch, now=later, dry_run=True)
    assert report.purged == [item]
    assert set(report.dropped) == {(item, "quality"), (item, "training")}
    assert parch.record(item).purpose_names == frozenset({"quality", "training"})


def test_held_item_survives_sweep_then_goes_after_the_hold_is_lifted(parch: Archive) -> None:
    item = parch.ingest(email_item(started_at=T0)).item_id
    hold = holds.place_hold(parch, actor="l", reason="litigation", case_ref="CASE-1",
                            item_ids=[item])
    later = T0 + timedelta(days=400)
    report = sweep(parch, now=later)
    assert report.held == [item] and report.purged == []
    assert parch.record(item).held
    holds.lift_hold(parch, hold.id, actor="l", note="case closed")
    report = sweep(parch, now=later)
    assert report.purged == [item]


def test_sweep_is_audited_and_chain_stays_valid(parch: Archive) -> None:
    item = parch.ingest(email_item(started_at=T0)).item_id
    report = sweep(parch, now=T0 + timedelta(days=400), actor="sweeper")
    assert report.audit_seq is not None
    actions = [e.action for e in parch.audit.events(item_id=item)]
    assert "purge" in actions and "sweep" in actions
    assert parch.audit.verify().ok
    with parch.catalog.read() as conn:
        import sqlalchemy as sa

        from archive import catalog as cat
        tomb = conn.execute(sa.select(cat.tombstones)).one()
    assert tomb.item_id == item and tomb.reason == "retention"


def test_restricted_item_is_neither_purged_nor_stripped_until_the_restriction_is_lifted(
    parch: Archive,
) -> None:
    """Art. 18: a restricted item is stored, not processed; the sweep reports it and waits."""
    from archive import rights

    item = parch.ingest(email_item(customer="rita@customer.nl", started_at=T0)).item_id
    order = parch.ingest(email_item(customer="rita@customer.nl", agent=ORDERS_MAILBOX,
                                    started_at=T0)).item_id
    other = parch.ingest(email_item(customer="otto@customer.nl", started_at=T0)).item_id
    rights.restrict_subject(parch, "rita@customer.nl", actor="dpo", reason="accuracy contested")
    later = T0 + timedelta(days=400)

    dry = sweep(parch, now=later, dry_run=True)
    assert sorted(dry.restricted) == sorted([item, order])
    assert dry.purged == [other]

    report = sweep(parch, now=later)
    assert sorted(report.restricted) == sorted([item, order])
    assert report.purged == [other]
    assert {i for i, _ in report.dropped} == {other}
    assert sorted(report.public()["restricted"]) == sorted([item, order])
    assert parch.record(item).purpose_names == frozenset({"quality", "training"})
    assert parch.record(order).purpose_names == frozenset({"quality", "training", "legal"})

    rights.lift_restriction(parch, "rita@customer.nl", actor="dpo", note="told her by phone")
    report = sweep(parch, now=later)
    assert report.restricted == []
    assert report.purged == [item]
    assert parch.record(order).purpose_names == frozenset({"legal"})


def test_unparsed_mail_is_swept_at_the_end_of_its_retention(parch: Archive) -> None:
    """Unparsed mail is restricted for safety, not at anyone's request: retention still ends it."""
    from archive.model import ItemStatus

    new = email_item(started_at=T0)
    new.status, new.status_reason = ItemStatus.UNPARSED, "bad MIME"
    item = parch.ingest(new).item_id
    assert parch.record(item).restricted
    report = sweep(parch, now=T0 + timedelta(days=400))
    assert report.purged == [item] and report.restricted == []
