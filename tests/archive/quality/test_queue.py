"""Review queues: a seeded sampler that is reproducible and fair, monitoring policies
that flag items at ingest and on backfill, assignment and status, calibration spread."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.config import Role, TaggingRule
from archive.errors import AccessDenied, ErrorCode, InvalidRequest
from archive.model import Channel, Section
from archive.quality import backfill, monitoring, queue, reviews, sampling, scorecards
from archive.quality.reviews import week_of
from archive.service import Archive
from tests.archive.quality.conftest import QUALITY, QUALITY_2
from tests.conftest import TEST_CONFIG, email_item, make_archive
from tests.subjects import A, B, C, call_item

WEEK = week_of(datetime.now(UTC))
MONDAY = datetime.combine(WEEK, time(), tzinfo=UTC)
AGENTS = ("+31205550101", "+31205550102", "+31205550103")


def _calls(archive: Archive, counts: dict[str, int]) -> dict[str, list[str]]:
    made: dict[str, list[str]] = {}
    minute = 0
    for agent, n in counts.items():
        for _ in range(n):
            minute += 1
            item = call_item(A, started_at=MONDAY + timedelta(minutes=minute), agent=agent)
            made.setdefault(agent, []).append(archive.ingest(item).item_id)
    return made


def test_sampling_is_reproducible_with_a_seed_and_fair(archive: Archive) -> None:
    """GIVEN agents with 5, 5 and 1 calls this week
    WHEN 3 per agent are drawn with one seed, twice, and with another seed
    THEN both draws with the seed agree, each agent with enough calls gets exactly 3
    and the one with a single call gets it; another seed draws differently."""
    made = _calls(archive, {AGENTS[0]: 5, AGENTS[1]: 5, AGENTS[2]: 1})
    first = sampling.sample_week(archive, week=WEEK, per_agent=3, seed="s1", actor="rita",
                                 role="quality", dry_run=True)
    again = sampling.sample_week(archive, week=WEEK, per_agent=3, seed="s1", actor="rita",
                                 role="quality", dry_run=True)
    assert first.picked == again.picked
    assert {a: len(ids) for a, ids in first.picked.items()} == {
        AGENTS[0]: 3, AGENTS[1]: 3, AGENTS[2]: 1}
    for agent, ids in first.picked.items():
        assert set(ids) <= set(made[agent]) and len(set(ids)) == len(ids)
    others = [sampling.sample_week(archive, week=WEEK, per_agent=3, seed=f"other-{n}",
                                   actor="rita", role="quality", dry_run=True).picked
              for n in range(5)]
    assert any(o != first.picked for o in others)


def test_sampling_queues_the_draw_and_avoids_items_already_reviewed(
    archive: Archive, card: scorecards.Scorecard,
) -> None:
    made = _calls(archive, {AGENTS[0]: 4})
    done = made[AGENTS[0]][0]
    review = reviews.start(archive, QUALITY, done, card.id)
    reviews.submit(archive, QUALITY, review, {"greeting": "yes", "identify": "yes",
                                              "solved": "yes"}, "")
    got = sampling.sample_week(archive, week=WEEK, per_agent=10, seed="x", actor="rita",
                               role="quality")
    assert sorted(got.picked[AGENTS[0]]) == sorted(made[AGENTS[0]][1:])
    queued = queue.listing(archive, QUALITY, source=queue.Source.SAMPLE)
    assert sorted(e["item_id"] for e in queued) == sorted(made[AGENTS[0]][1:])
    # A second run finds nothing new: sampled items are not drawn twice.
    assert sampling.sample_week(archive, week=WEEK, per_agent=10, seed="x", actor="rita",
                                role="quality").picked == {}


def test_sampling_refuses_a_week_that_does_not_start_on_monday(archive: Archive) -> None:
    with pytest.raises(InvalidRequest, match="is not a Monday"):
        sampling.sample_week(archive, week=WEEK + timedelta(days=1), per_agent=1, seed="s",
                             actor="rita", role="quality")


POLICY: dict[str, Any] = {
    "lists": {"*": ["cancel my contract"], "nl": ["opzeggen"], "en": ["complaint"]},
    "near": [{"a": "lawyer", "b": "court", "within": 5}],
}


def _transcript(*spoken: str, language: str = "en") -> dict[str, Any]:
    words = []
    t = 0.0
    for w in " ".join(spoken).split():
        words.append({"word": w, "start": t, "end": t + 0.4, "conf": 1.0})
        t += 0.5
    return {"language": language, "speakers": [{"label": "customer", "channel": 1,
                                                "words": words, "utterances": []}]}


def test_a_policy_flags_an_email_at_ingest_with_the_offsets_of_the_hit(
    archive: Archive,
) -> None:
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    monitoring.install(archive)
    body = "Hello, I want to CANCEL my contract today."
    flagged = archive.ingest(email_item(body=body)).item_id
    archive.ingest(email_item(body="Thanks, all good."))
    [entry] = queue.listing(archive, QUALITY)
    assert (entry["item_id"], entry["source"], entry["policy"]) == (flagged, "policy", "churn")
    [hit] = entry["hits"]
    assert hit["kind"] == "body" and body[hit["start"]:hit["end"]] == "CANCEL my contract"


def test_a_policy_flags_a_call_when_its_transcript_arrives(archive: Archive) -> None:
    monitoring.save(archive, "threats", POLICY, enabled=True, actor="rita", role="quality")
    monitoring.install(archive)
    item = archive.ingest(call_item(B, started_at=datetime.now(UTC))).item_id
    assert queue.listing(archive, QUALITY) == []
    archive.attach_transcript(item, _transcript("my lawyer will see you in court"),
                              [Section("transcript", "x")], "x")
    [entry] = queue.listing(archive, QUALITY)
    [hit] = entry["hits"]
    assert hit["rule"] == "lawyer ~5 court"
    assert (hit["start_s"], hit["end_s"], hit["speaker"]) == (0.5, 3.4, "customer")


def test_per_language_lists_apply_only_to_their_language(archive: Archive) -> None:
    policy = monitoring.parse("p", POLICY)
    assert monitoring.transcript_hits(policy, _transcript("ik wil opzeggen", language="nl"),
                                      "nl")
    assert not monitoring.transcript_hits(policy, _transcript("ik wil opzeggen"), "en")
    assert not monitoring.transcript_hits(policy, _transcript("a complaint"), "nl")


def test_backfill_checks_items_archived_before_the_policy(archive: Archive) -> None:
    old = archive.ingest(email_item(body="This is a formal complaint.")).item_id
    monitoring.save(archive, "complaints", POLICY, enabled=True, actor="rita", role="quality")
    asked = backfill.request(archive, actor="rita", role="quality")
    backfill.run_queued(archive, worker="test")
    assert backfill.get(archive, asked.id).queued == 1
    assert [e["item_id"] for e in queue.listing(archive, QUALITY)] == [old]


def test_a_bad_policy_is_refused_naming_it_and_the_reason(archive: Archive) -> None:
    with pytest.raises(InvalidRequest, match="policy 'x': a proximity rule joins two single"):
        monitoring.parse("x", {"near": [{"a": "two words", "b": "c", "within": 3}]})


def test_entries_are_assigned_to_reviewers_and_move_through_statuses(
    archive: Archive,
) -> None:
    archive.users.add(QUALITY_2.name, Role.QUALITY)
    item = archive.ingest(email_item()).item_id
    entry = queue.add_manual(archive, QUALITY, item)
    got = queue.update(archive, QUALITY, entry, assignee=QUALITY_2.name,
                       status=queue.Status.IN_REVIEW)
    assert (got["assignee"], got["status"]) == (QUALITY_2.name, "in_review")
    assert [e["id"] for e in queue.listing(archive, QUALITY, assignee=QUALITY_2.name)] == [entry]
    with pytest.raises(InvalidRequest, match="'nobody' is not a reviewer"):
        queue.update(archive, QUALITY, entry, assignee="nobody")


def test_calibration_shows_the_spread_per_criterion(
    archive: Archive, card: scorecards.Scorecard,
) -> None:
    item = archive.ingest(call_item(C, started_at=datetime.now(UTC))).item_id
    queue.add_manual(archive, QUALITY, item, calibration=True)
    one = reviews.start(archive, QUALITY, item, card.id, calibration=True)
    reviews.submit(archive, QUALITY, one, {"greeting": "yes", "identify": "yes",
                                           "solved": "yes"}, "")
    two = reviews.start(archive, QUALITY_2, item, card.id, calibration=True)
    with pytest.raises(AccessDenied, match="blind"):
        queue.spread(archive, QUALITY_2, item)
    reviews.submit(archive, QUALITY_2, two, {"greeting": "yes", "identify": "yes",
                                             "solved": "partial"}, "")
    got = queue.spread(archive, QUALITY_2, item)
    by_id = {c["id"]: c for c in got["criteria"]}
    assert by_id["solved"]["spread"] == 50.0 and by_id["greeting"]["spread"] == 0.0
    assert got["scores"] == {"ramon": 83.3, "rita": 100.0}
    assert got["score_spread"] == 16.7


def test_the_quality_team_sees_only_items_carrying_quality(tmp_path: Path) -> None:
    """GIVEN e-mails tagged for training only and calls for quality
    THEN a flagged e-mail never reaches the queue and cannot be reviewed or queued."""
    config = TEST_CONFIG.model_copy(update={"rules": (
        TaggingRule(purposes=("training",), channel=Channel.EMAIL),
        TaggingRule(purposes=("quality",), channel=Channel.CALL))})
    archive = make_archive(tmp_path / "a", config=config)
    try:
        card = scorecards.save(archive, name="Calls", actor="rita", role="quality",
                               sections=[{"title": "S", "criteria": [{"id": "a", "label": "A"}]}])
        monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
        monitoring.install(archive)
        mail = archive.ingest(email_item(body="I will cancel my contract")).item_id
        assert queue.listing(archive, QUALITY) == []
        with pytest.raises(AccessDenied) as refused:
            reviews.start(archive, QUALITY, mail, card.id)
        assert refused.value.code is ErrorCode.PURPOSE_NOT_CARRIED
        with pytest.raises(AccessDenied):
            queue.add_manual(archive, QUALITY, mail)
    finally:
        archive.close()
