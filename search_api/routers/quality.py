"""The quality team's API: scorecards, reviews, moment comments, calibration.

Role checks as everywhere: ``quality`` reviews items carrying ``quality`` (and
only those: the archive's ``authorize`` decides), an ``agent`` reads and
answers its own reviews, never content; ``admin`` links agent users to their
identifiers and sees no review. Queue, policies, sampling and statistics are
in ``search_api.routers.quality_queue``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from archive.config import Role
from archive.quality import agents, reviews, scorecards
from archive.users import User
from search_api.deps import AdminUser, ArchiveDep, require_roles
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.schemas.quality import (
    AgentLink,
    AgentLinkPublic,
    CommentCreate,
    CommentPublic,
    ReviewCreate,
    ReviewPublic,
    ReviewResponse,
    ReviewSubmit,
    ReviewSummaryPublic,
    ScorecardCreate,
    ScorecardPublic,
    ScorePublic,
)

router = APIRouter(prefix="/api/v1/quality", tags=["quality"], responses=AUTHENTICATED_ERRORS)

QualityUser = Annotated[User, Depends(require_roles(Role.QUALITY))]
ReviewReader = Annotated[User, Depends(require_roles(Role.QUALITY, Role.AGENT))]


def plain(value: Any) -> Any:
    """Times as the API writes them (ISO 8601 with offset), recursively."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@router.get("/scorecards", responses=error_responses(422))
def list_scorecards(
    archive: ArchiveDep, user: QualityUser,
    name: Annotated[str | None, Query(max_length=200, description="all versions of one form")]
    = None,
) -> list[ScorecardPublic]:
    """The newest version of every form, or every version of ``name``."""
    found = scorecards.versions(archive, name) if name else scorecards.latest(archive)
    return [ScorecardPublic.model_validate(plain(c.public())) for c in found]


@router.post("/scorecards", status_code=status.HTTP_201_CREATED,
             responses=error_responses(400, 422))
def save_scorecard(body: ScorecardCreate, archive: ArchiveDep,
                   user: QualityUser) -> ScorecardPublic:
    """Save a form; an existing name gets its next version (old reviews keep theirs)."""
    card = scorecards.save(archive, name=body.name, actor=user.name, role=user.role.value,
                           sections=[s.model_dump() for s in body.sections])
    return ScorecardPublic.model_validate(plain(card.public()))


@router.get("/scorecards/{scorecard_id}", responses=error_responses(404, 422))
def get_scorecard(scorecard_id: int, archive: ArchiveDep,
                  user: ReviewReader) -> ScorecardPublic:
    return ScorecardPublic.model_validate(plain(scorecards.load(archive, scorecard_id).public()))


@router.post("/reviews", status_code=status.HTTP_201_CREATED,
             responses=error_responses(400, 404, 422))
def start_review(body: ReviewCreate, archive: ArchiveDep, user: QualityUser) -> ReviewPublic:
    """Open (or reopen) the caller's review of an item on a scorecard version."""
    review_id = reviews.start(archive, user, body.item_id, body.scorecard_id,
                              calibration=body.calibration)
    return ReviewPublic.model_validate(plain(reviews.get(archive, user, review_id)))


@router.get("/reviews", responses=error_responses(422))
def list_reviews(
    archive: ArchiveDep, user: ReviewReader,
    item_id: Annotated[str | None, Query(max_length=40)] = None,
) -> list[ReviewSummaryPublic]:
    """Quality: reviews of items still carrying quality (others' blind calibration
    reviews left out); an agent: its own submitted reviews."""
    return [ReviewSummaryPublic.model_validate(plain(r))
            for r in reviews.listing(archive, user, item_id=item_id)]


@router.get("/reviews/{review_id}", responses=error_responses(404, 422))
def get_review(review_id: int, archive: ArchiveDep, user: ReviewReader) -> ReviewPublic:
    """A review with its answers, summary and comments (audited)."""
    return ReviewPublic.model_validate(plain(reviews.get(archive, user, review_id)))


@router.post("/reviews/{review_id}/submit", responses=error_responses(400, 404, 409, 422))
def submit_review(review_id: int, body: ReviewSubmit, archive: ArchiveDep,
                  user: QualityUser) -> ScorePublic:
    """Score and seal the review (once); every criterion answered yes/no/partial/na."""
    got = reviews.submit(archive, user, review_id, dict(body.answers), body.summary)
    return ScorePublic(score=got.score, failed=got.failed, values=got.values)


@router.post("/reviews/{review_id}/response", responses=error_responses(400, 404, 422))
def respond_to_review(review_id: int, body: ReviewResponse, archive: ArchiveDep,
                      user: ReviewReader) -> ReviewPublic:
    """The agent acknowledges or disputes its review, with a comment."""
    reviews.respond(archive, user, review_id, body.response, body.comment)
    return ReviewPublic.model_validate(plain(reviews.get(archive, user, review_id)))


@router.get("/items/{item_id}/comments", responses=error_responses(404, 422))
def list_comments(item_id: str, archive: ArchiveDep, user: QualityUser) -> list[CommentPublic]:
    """An item's comments, in order (at seconds into a call, or on the message)."""
    return [CommentPublic.model_validate(plain(c))
            for c in reviews.item_comments(archive, user, item_id)]


@router.post("/items/{item_id}/comments", status_code=status.HTTP_201_CREATED,
             responses=error_responses(400, 404, 422))
def add_comment(item_id: str, body: CommentCreate, archive: ArchiveDep,
                user: QualityUser) -> CommentPublic:
    comment = reviews.add_comment(archive, user, item_id, body.text,
                                  at_seconds=body.at_seconds, review_id=body.review_id)
    return CommentPublic.model_validate(plain(reviews.comment_dict(comment)))


@router.put("/agents/{user_name}", responses=error_responses(400, 404, 422))
def link_agent(user_name: str, body: AgentLink, archive: ArchiveDep,
               user: AdminUser) -> AgentLinkPublic:
    """Link a user of role agent to its internal identifiers (and a team)."""
    linked = agents.link(archive, user_name, body.identifiers, team=body.team,
                         actor=user.name, role=user.role.value)
    return AgentLinkPublic(user=user_name, identifiers=linked, team=body.team)
