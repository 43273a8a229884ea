"""The quality workspace's API shapes: scorecards, reviews, comments, queue, policies,
sampling, calibration and statistics."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from search_api.schemas.common import BodyModel, PublicModel, Timestamp

AnswerValue = Literal["yes", "no", "partial", "na"]


class CriterionBody(BodyModel):
    id: str = Field(min_length=1, max_length=100, description="unique in the form; a-z 0-9 - _")
    label: str = Field(min_length=1, max_length=500)
    weight: float = Field(default=1.0, gt=0, le=1000)
    auto_fail: bool = Field(default=False, description="a 'no' here scores the review 0")


class SectionBody(BodyModel):
    title: str = Field(min_length=1, max_length=200)
    criteria: list[CriterionBody] = Field(min_length=1, max_length=200)


class ScorecardCreate(BodyModel):
    """Saving under an existing name makes its next version."""

    name: str = Field(min_length=1, max_length=200)
    sections: list[SectionBody] = Field(min_length=1, max_length=50)


class CriterionPublic(PublicModel):
    id: str
    label: str
    weight: float
    auto_fail: bool


class SectionPublic(PublicModel):
    title: str
    criteria: list[CriterionPublic]


class ScorecardPublic(PublicModel):
    id: int
    name: str
    version: int
    created_at: Timestamp
    created_by: str
    sections: list[SectionPublic]


class ReviewCreate(BodyModel):
    item_id: str = Field(min_length=1, max_length=40)
    scorecard_id: int
    calibration: bool = Field(default=False, description="a blind review of a calibration round")


class ReviewSubmit(BodyModel):
    answers: dict[str, AnswerValue] = Field(description="criterion id -> answer, every one")
    summary: str = Field(default="", max_length=8000)


class ReviewResponse(BodyModel):
    response: Literal["acknowledged", "disputed"]
    comment: str = Field(default="", max_length=4000)


class CommentCreate(BodyModel):
    text: str = Field(min_length=1, max_length=4000)
    at_seconds: float | None = Field(default=None, ge=0,
                                     description="seconds into a call; none for an e-mail")
    review_id: int | None = None


class CommentPublic(PublicModel):
    id: int
    item_id: str
    review_id: int | None
    author: str
    role: str
    at_seconds: float | None
    created_at: Timestamp
    text: str


class ReviewSummaryPublic(PublicModel):
    id: int
    item_id: str
    scorecard_id: int
    reviewer: str
    agent: str = Field(description="the item's internal party (its normalised identifier)")
    calibration: bool
    score: float | None = Field(description="0..100; none until submitted")
    failed: bool = Field(description="an auto-fail criterion was answered 'no'")
    created_at: Timestamp
    submitted_at: Timestamp | None
    response: str | None = Field(description="the agent's: acknowledged or disputed")
    responded_at: Timestamp | None


class ReviewPublic(ReviewSummaryPublic):
    answers: dict[str, str]
    summary: str
    scorecard: ScorecardPublic
    comments: list[CommentPublic]


class ScorePublic(PublicModel):
    score: float
    failed: bool
    values: dict[str, float | None] = Field(description="criterion -> 0..1, none for na")


class QueueEntryCreate(BodyModel):
    item_id: str = Field(min_length=1, max_length=40)
    calibration: bool = False


class QueueEntryUpdate(BodyModel):
    status: Literal["open", "in_review", "done"] | None = None
    assignee: str | None = Field(default=None, max_length=200)
    unassign: bool = False


class QueueEntryPublic(PublicModel):
    id: int
    item_id: str
    source: str = Field(description="sample, policy, manual or calibration")
    policy: str
    agent: str
    hits: list[dict[str, Any]] = Field(
        description="where a policy hit: section, kind, start, end (e-mail) or speaker, "
        "channel, start_s, end_s (call), and the rule")
    status: str
    assignee: str | None
    created_at: Timestamp


class SampleRequest(BodyModel):
    week: date = Field(description="the Monday of the ISO week")
    per_agent: int = Field(ge=1, le=100)
    seed: str = Field(min_length=1, max_length=200)
    dry_run: bool = False


class SamplePublic(PublicModel):
    week: str
    per_agent: int
    seed: str
    dry_run: bool
    picked: dict[str, list[str]] = Field(description="agent -> sampled item ids")
    candidates: dict[str, int] = Field(description="agent -> how many calls could be drawn")


class NearBody(BodyModel):
    a: str = Field(min_length=1, max_length=100)
    b: str = Field(min_length=1, max_length=100)
    within: int = Field(ge=1, le=50, description="at most this many words apart")
    language: str = Field(default="*", max_length=16)


class PolicyBody(BodyModel):
    lists: dict[str, list[str]] = Field(
        default_factory=dict, description='language ("*" for all) -> phrases')
    near: list[NearBody] = Field(default_factory=list)
    enabled: bool = True


class PolicyPublic(PublicModel):
    name: str
    enabled: bool
    lists: dict[str, list[str]]
    near: list[dict[str, Any]]


class BackfillRequest(BodyModel):
    since: date | None = Field(default=None, description="items started on or after this day")
    until: date | None = Field(default=None, description="items started before this day")
    policies: list[str] = Field(default_factory=list, max_length=100,
                                description="none: every policy enabled now")


class BackfillPublic(PublicModel):
    """A backfill request: what was asked, how far its job got, and its result."""

    id: int
    url: str = Field(description="where to poll it")
    requested_by: str
    requested_at: Timestamp
    since: Timestamp | None
    until: Timestamp | None
    policies: list[str]
    all_enabled: bool = Field(description="no policy was named: those enabled when asked")
    status: Literal["queued", "running", "done", "failed"]
    items_total: int | None = Field(description="items in the range, counted when it starts")
    items_done: int
    items_failed: int = Field(description="items that could not be read (see error)")
    queued: int = Field(description="review-queue entries it made")
    started_at: Timestamp | None
    finished_at: Timestamp | None
    error: str | None


class CalibrationCriterionPublic(PublicModel):
    id: str
    label: str
    values: dict[str, float | None] = Field(description="reviewer -> 0..100, none for na")
    spread: float | None


class CalibrationPublic(PublicModel):
    item_id: str
    reviewers: list[str]
    scores: dict[str, float | None]
    score_spread: float
    scorecard: str
    mixed_versions: bool
    criteria: list[CalibrationCriterionPublic]


class WeekStatPublic(PublicModel):
    week: str
    reviews: int
    mean_score: float | None
    planned: int


class CriterionStatPublic(PublicModel):
    criterion: str
    reviews: int
    failures: int
    failure_rate: float


class AgentStatPublic(PublicModel):
    agent: str
    team: str
    reviews: int
    mean_score: float
    planned: int
    failures: int


class StatsPublic(PublicModel):
    weeks: list[WeekStatPublic]
    criteria: list[CriterionStatPublic]
    agents: list[AgentStatPublic]


class AgentLink(BodyModel):
    identifiers: list[str] = Field(min_length=1, max_length=50)
    team: str | None = Field(default=None, max_length=200)


class AgentLinkPublic(PublicModel):
    user: str
    identifiers: list[str]
    team: str | None
