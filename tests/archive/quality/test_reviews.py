"""Scorecards, reviews and comments: scored as documented, sealed, tied to their form
version, and gone with the item (or its quality key) while the aggregates stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive import catalog as cat
from archive import quality_tables as qt
from archive import rights
from archive.config import Role, TaggingRule
from archive.errors import AccessDenied, InvalidRequest
from archive.quality import reviews, scorecards
from archive.quality.agents import agent_of, link
from archive.service import Archive
from tests.archive.quality.conftest import AGENT, AGENT_NUMBER, CARD_SECTIONS, QUALITY, QUALITY_2
from tests.conftest import TEST_CONFIG, email_item, make_archive
from tests.subjects import A, B, call_item

ALL_YES = {"greeting": "yes", "identify": "yes", "solved": "yes"}


def _call(archive: Archive, who: object = A) -> str:
    started = datetime.now(UTC) - timedelta(hours=1)
    return archive.ingest(call_item(who, started_at=started)).item_id  # type: ignore[arg-type]


def test_score_is_the_weighted_mean_and_na_leaves_a_criterion_out(
    card: scorecards.Scorecard,
) -> None:
    assert scorecards.score(card, ALL_YES).score == 100.0
    # greeting no (w1), identify yes (w3), solved partial (w2): (0 + 3 + 1) / 6
    got = scorecards.score(card, {"greeting": "no", "identify": "yes", "solved": "partial"})
    assert got.score == 66.7 and not got.failed
    got = scorecards.score(card, {"greeting": "na", "identify": "yes", "solved": "no"})
    assert got.score == 60.0 and got.values["greeting"] is None


def test_a_no_on_an_auto_fail_criterion_fails_the_whole_review(
    card: scorecards.Scorecard,
) -> None:
    got = scorecards.score(card, {"greeting": "yes", "identify": "no", "solved": "yes"})
    assert got.failed and got.score == 0.0


def test_bad_forms_and_answers_are_refused_naming_what_is_wrong(
    archive: Archive, card: scorecards.Scorecard,
) -> None:
    with pytest.raises(InvalidRequest, match="'greeting' is used twice"):
        scorecards.save(archive, name="Dup", actor="r", role="quality", sections=[
            {"title": "S", "criteria": [{"id": "greeting", "label": "a"},
                                        {"id": "greeting", "label": "b"}]}])
    with pytest.raises(InvalidRequest, match="'solved' of scorecard 'Calls' is not answered"):
        scorecards.score(card, {"greeting": "yes", "identify": "yes"})
    with pytest.raises(InvalidRequest, match="answer 'maybe' is not one of"):
        scorecards.score(card, {**ALL_YES, "solved": "maybe"})


def test_a_new_version_leaves_old_reviews_on_the_form_they_used(
    archive: Archive, card: scorecards.Scorecard,
) -> None:
    item = _call(archive)
    review = reviews.start(archive, QUALITY, item, card.id)
    reviews.submit(archive, QUALITY, review, ALL_YES, "Fine call.")
    newer = scorecards.save(archive, name="Calls", actor="rita", role="quality", sections=[
        *CARD_SECTIONS, {"title": "Closing", "criteria": [{"id": "bye", "label": "Says bye"}]}])
    assert (newer.version, card.version) == (2, 1)
    got = reviews.get(archive, QUALITY, review)
    assert got["scorecard"]["version"] == 1
    assert got["score"] == 100.0 and got["answers"] == ALL_YES
    assert [c.name for c in scorecards.latest(archive)] == ["Calls"]
    assert scorecards.latest(archive)[0].version == 2


def test_review_texts_and_comments_are_sealed_not_in_the_catalog(
    archive: Archive, card: scorecards.Scorecard,
) -> None:
    item = _call(archive)
    review = reviews.start(archive, QUALITY, item, card.id)
    reviews.submit(archive, QUALITY, review, ALL_YES, "Zebracrossing summary")
    reviews.add_comment(archive, QUALITY, item, "Quokka moment here", at_seconds=12.5)
    raw = b"".join(p.read_bytes() for p in archive.data_dir.rglob("*") if p.is_file())
    assert b"Zebracrossing" not in raw and b"Quokka" not in raw
    got = reviews.get(archive, QUALITY, review)
    assert got["summary"] == "Zebracrossing summary"
    [comment] = reviews.item_comments(archive, QUALITY, item)
    assert (comment["text"], comment["at_seconds"]) == ("Quokka moment here", 12.5)


def test_a_comment_past_the_end_of_the_call_is_refused(
    archive: Archive, card: scorecards.Scorecard,
) -> None:
    item = _call(archive)
    with pytest.raises(InvalidRequest, match=f"item {item}: 300.0 s is past the end"):
        reviews.add_comment(archive, QUALITY, item, "late", at_seconds=300)


def test_an_email_comment_sits_on_the_message(archive: Archive) -> None:
    item = archive.ingest(email_item()).item_id
    with pytest.raises(InvalidRequest, match=f"item {item} is an e-mail: a comment sits on"):
        reviews.add_comment(archive, QUALITY, item, "at a time?", at_seconds=3)
    reviews.add_comment(archive, QUALITY, item, "Tone is too curt")
    [comment] = reviews.item_comments(archive, QUALITY, item)
    assert (comment["text"], comment["at_seconds"]) == ("Tone is too curt", None)


def test_agent_of_a_call_is_its_internal_party(archive: Archive) -> None:
    assert agent_of(archive.record(_call(archive))) == AGENT_NUMBER


def _counts(archive: Archive, item: str) -> tuple[int, int, int]:
    with archive.catalog.read() as conn:
        n_reviews = conn.execute(sa.select(sa.func.count()).select_from(qt.reviews)
                                 .where(qt.reviews.c.item_id == item)).scalar_one()
        n_comments = conn.execute(sa.select(sa.func.count()).select_from(qt.comments)
                                  .where(qt.comments.c.item_id == item)).scalar_one()
        n_parts = conn.execute(sa.select(sa.func.count()).select_from(cat.parts).where(
            cat.parts.c.item_id == item, cat.parts.c.name.like("quality@%"))).scalar_one()
    return n_reviews, n_comments, n_parts


def _aggregate_reviews(archive: Archive) -> int:
    with archive.catalog.read() as conn:
        return int(conn.execute(sa.select(sa.func.sum(qt.aggregates.c.reviews)).where(
            qt.aggregates.c.criterion == "")).scalar_one() or 0)


@pytest.mark.parametrize("legal", [False, True], ids=["purged", "kept-for-legal"])
def test_erasure_takes_reviews_and_comments_and_the_aggregates_remain(
    tmp_path: Path, legal: bool,
) -> None:
    """GIVEN a reviewed, commented call of Anna and one of Bob
    WHEN Anna is erased (the item purged, or kept only for a legal obligation)
    THEN her item's reviews, comments and sealed texts are gone, Bob's stay,
    and the agent's aggregate still counts both reviews."""
    purposes = ("quality", "training", "legal") if legal else ("quality", "training")
    config = TEST_CONFIG.model_copy(update={"rules": (TaggingRule(purposes=purposes),)})
    archive = make_archive(tmp_path / "a", config=config)
    card = scorecards.save(archive, name="Calls", sections=CARD_SECTIONS, actor="rita",
                           role="quality")
    anna, bob = _call(archive, A), _call(archive, B)
    for item in (anna, bob):
        review = reviews.start(archive, QUALITY, item, card.id)
        reviews.submit(archive, QUALITY, review, ALL_YES, "ok")
        reviews.add_comment(archive, QUALITY, item, "at a moment", at_seconds=3,
                            review_id=review)
    assert _counts(archive, anna) == (1, 1, 2)
    rights.erase_subject(archive, A.phone, actor="dpo")
    assert _counts(archive, anna) == (0, 0, 0)
    assert _counts(archive, bob) == (1, 1, 2)
    assert _aggregate_reviews(archive) == 2
    assert [r["item_id"] for r in reviews.listing(archive, QUALITY)] == [bob]
    assert (anna in archive.item_ids()) is legal
    archive.close()


def test_the_agent_sees_only_its_own_reviews_and_may_dispute_them(
    archive: Archive, card: scorecards.Scorecard,
) -> None:
    archive.users.add(AGENT.name, Role.AGENT)
    link(archive, AGENT.name, [AGENT_NUMBER], team="Blue", actor="admin", role="admin")
    mine = _call(archive)
    other = archive.ingest(call_item(B, started_at=datetime.now(UTC),
                                     agent="+31205550199")).item_id
    ids = {}
    for item in (mine, other):
        ids[item] = reviews.start(archive, QUALITY, item, card.id)
        reviews.submit(archive, QUALITY, ids[item], ALL_YES, "summary")
    assert [r["item_id"] for r in reviews.listing(archive, AGENT)] == [mine]
    with pytest.raises(InvalidRequest, match="does not exist"):
        reviews.get(archive, AGENT, ids[other])
    reviews.respond(archive, AGENT, ids[mine], reviews.Response.DISPUTED, "I did check it")
    got = reviews.get(archive, AGENT, ids[mine])
    assert got["response"] == "disputed"
    assert [c["text"] for c in got["comments"]] == ["I did check it"]


def test_calibration_is_blind_until_the_reviewer_submitted(
    archive: Archive, card: scorecards.Scorecard,
) -> None:
    item = _call(archive)
    first = reviews.start(archive, QUALITY, item, card.id, calibration=True)
    reviews.submit(archive, QUALITY, first, ALL_YES, "")
    second = reviews.start(archive, QUALITY_2, item, card.id, calibration=True)
    with pytest.raises(AccessDenied, match="calibration is blind"):
        reviews.get(archive, QUALITY_2, first)
    reviews.submit(archive, QUALITY_2, second, {**ALL_YES, "solved": "no"}, "")
    assert reviews.get(archive, QUALITY_2, first)["score"] == 100.0
    assert _aggregate_reviews(archive) == 0
