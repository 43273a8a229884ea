"""One end-to-end test per data-subject right, on a mixed archive of three subjects."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from archive import catalog as cat
from archive import rights
from archive.errors import AccessDenied, InvalidRequest
from archive.index import SearchQuery
from tests.subjects import ALL_OF_A, LEGAL, PRIVACY, QUALITY, TRAINER, A, B, Mixed


def test_restriction_hides_items_from_quality_and_trainer_until_lifted(mixed: Mixed) -> None:
    arc = mixed.archive
    result = rights.restrict_subject(arc, A.phone, actor="dpo", reason="accuracy contested")
    call = next(i for i in mixed.items[A.email] if arc.record(i).channel.value == "call")
    assert call in result["restricted"]
    for user in (QUALITY, TRAINER):
        with pytest.raises(AccessDenied) as err:
            arc.read_content(user, call, part="transcript")
        assert err.value.code == "restricted"
        hits = arc.search(user, SearchQuery(text="router broken")).result.hits
        assert call not in {h.item_id for h in hits}
        assert {h.item_id for h in hits} >= {i for i in mixed.items[B.email]
                                             if arc.record(i).channel.value == "call"}
    assert arc.read_content(PRIVACY, call).data
    assert arc.read_content(LEGAL, mixed.a_order).purpose == "legal"
    with pytest.raises(InvalidRequest):
        rights.lift_restriction(arc, A.phone, actor="dpo", note=" ")
    lifted = rights.lift_restriction(arc, A.phone, actor="dpo",
                                      note="subject informed by e-mail on 2026-02-01")
    assert call in lifted["lifted"]
    assert arc.read_content(QUALITY, call).purpose == "quality"
    assert [e.action for e in arc.audit.events(subject=A.phone)][-2:] == \
        ["restrict", "restrict_lift"]


def test_objection_drops_quality_and_training_keys_and_keeps_legal(mixed: Mixed) -> None:
    arc = mixed.archive
    result = rights.object_subject(arc, ALL_OF_A, actor="dpo")
    assert set(result["purposes"]) == {"quality", "training"}
    assert mixed.a_order not in result["purged"]
    assert arc.record(mixed.a_order).purpose_names == frozenset({"legal"})
    with pytest.raises(AccessDenied):
        arc.read_content(QUALITY, mixed.a_order)
    assert arc.read_content(LEGAL, mixed.a_order).purpose == "legal"
    others = [i for i in mixed.items[A.email] if i != mixed.a_order]
    assert set(result["purged"]) == set(others)
    with arc.catalog.read() as conn:
        left = conn.execute(sa.select(cat.wrapped_keys.c.purpose)
                            .where(cat.wrapped_keys.c.item_id == mixed.a_order)).all()
    assert [r[0] for r in left] == ["legal"]
    with pytest.raises(InvalidRequest):
        rights.object_subject(arc, A.email, actor="dpo", purposes=["legal"])


def test_consent_withdrawal_of_one_purpose_only(mixed: Mixed) -> None:
    arc = mixed.archive
    result = rights.object_subject(arc, [B.email, B.phone], actor="dpo", purposes=["training"],
                                    withdrawal=True)
    assert {d["purpose"] for d in result["dropped"]} == {"training"}
    for item_id in mixed.items[B.email]:
        assert arc.record(item_id).purpose_names == frozenset({"quality"})
        with pytest.raises(AccessDenied):
            arc.read_content(TRAINER, item_id, part="transcript")
    assert arc.audit.events(subject=B.email)[-1].action == "consent_withdrawal"


@pytest.mark.parametrize("withdrawal", [False, True])
def test_objection_keeps_another_subjects_mail_that_only_mentions_the_subject(
    mixed: Mixed, withdrawal: bool,
) -> None:
    """Anna's objection must not shred Bob's e-mail that only mentions her."""
    from tests.conftest import email_item

    arc = mixed.archive
    bobs = arc.ingest(email_item(subject="About my neighbour",
                                 body=f"My neighbour {A.customer_number} gets my post.",
                                 customer=B.email)).item_id
    result = rights.object_subject(arc, ALL_OF_A, actor="dpo", withdrawal=withdrawal)
    kept = {k["item_id"]: k["reason"] for k in result["kept"]}
    assert kept[bobs] == "other_subjects"
    assert bobs not in {d["item_id"] for d in result["dropped"]}
    assert bobs not in result["purged"]
    assert arc.record(bobs).purpose_names == frozenset({"quality", "training"})
    assert arc.read_content(QUALITY, bobs).purpose == "quality"
    # The internal note mentions Anna and belongs to no other data subject: it goes.
    assert mixed.items["mention"][0] in result["purged"]
    again = rights.object_subject(arc, ALL_OF_A, actor="dpo", withdrawal=withdrawal,
                                  include_others=True)
    assert bobs in again["purged"]


def test_objection_dry_run_changes_nothing_and_is_audited_as_a_dry_run(mixed: Mixed) -> None:
    arc = mixed.archive
    dry = rights.object_subject(arc, ALL_OF_A, actor="dpo", dry_run=True)
    assert dry["dry_run"] is True
    others = [i for i in mixed.items[A.email] if i != mixed.a_order]
    assert set(dry["purged"]) == set(others)
    assert {d["purpose"] for d in dry["dropped"] if d["item_id"] == mixed.a_order} == \
        {"quality", "training"}
    for item_id in mixed.items[A.email]:
        assert arc.read_content(QUALITY, item_id).purpose == "quality"
    assert arc.audit.events(subject=A.email)[-1].action == "objection_dry_run"
    real = rights.object_subject(arc, ALL_OF_A, actor="dpo")
    assert real["dry_run"] is False and set(real["purged"]) == set(dry["purged"])
