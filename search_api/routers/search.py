"""Search within what the caller's role and purposes allow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from archive.config import Role
from archive.errors import AccessDenied, ErrorCode
from archive.index import SearchQuery
from archive.model import Channel, Direction
from archive.quality import agents, filters
from archive.quality.queue import Status
from archive.reading import READ_ROLES
from search_api.deps import ArchiveDep, CurrentUser
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.schemas.search import (
    AgentChoicePublic,
    SearchFiltersPublic,
    SearchHitPublic,
    SearchResultsPublic,
)

router = APIRouter(prefix="/api/v1", tags=["search"], responses=AUTHENTICATED_ERRORS)


@router.get("/search", responses=error_responses(400, 403, 422))
def search(
    archive: ArchiveDep,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=1000, description='words (ANDed) and "phrases"')] = "",
    channel: Annotated[str | None, Query(pattern="^(email|call)$")] = None,
    direction: Annotated[Direction | None, Query(description="who started it")] = None,
    party: Annotated[str | None, Query(max_length=600)] = None,
    subject: Annotated[str | None, Query(max_length=600)] = None,
    purpose: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_restricted: bool = False,
    agent: Annotated[str | None, Query(max_length=200, description=(
        "an agent's name (from /search/filters): items any of its identifiers took part "
        "in; quality, privacy and legal"))] = None,
    reviewed: Annotated[bool | None, Query(description=(
        "has a submitted review (true) or not (false); quality only"))] = None,
    queue: Annotated[str | None, Query(max_length=210, description=(
        "in the review queue: any, a source (sample, policy, manual, calibration) or "
        "policy:NAME; quality only"))] = None,
    queue_status: Annotated[Status | None, Query(description=(
        "with an entry in this status (alone: in any queue); quality only"))] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> SearchResultsPublic:
    """Items matching the words and filters, best first, within what the role may read.

    Review and queue state is resolved in the catalog at search time (never copied into
    the index), so a review shows in the next search; totals and pages count it."""
    query = SearchQuery(
        text=q, channel=channel, direction=direction.value if direction else None,
        party=party, subject=subject,
        purposes=frozenset({purpose}) if purpose else None,
        since=since, until=until, include_restricted=include_restricted,
        limit=limit, offset=offset,
    )
    query = filters.narrow(archive, user, query, filters.QualityFilters(
        agent=agent, reviewed=reviewed, queue=queue, queue_status=queue_status))
    page = archive.search(user, query)
    items = []
    for hit in page.result.hits:
        record = page.records.get(hit.item_id)
        if record is None:  # purged between index and catalog read
            continue
        items.append(SearchHitPublic.of_hit(hit, record, page.parties.get(hit.item_id, [])))
    return SearchResultsPublic(total=page.result.total,
                               total_is_lower_bound=page.result.total_is_lower_bound,
                               limit=limit, offset=offset, items=items)


@router.get("/search/filters")
def search_filters(archive: ArchiveDep, user: CurrentUser) -> SearchFiltersPublic:
    """The filters the search form offers this role; every reader role may ask."""
    if user.role not in READ_ROLES:
        raise AccessDenied(ErrorCode.WRONG_ROLE, f"role {user.role.value} may not search")
    choices = (agents.named(archive) if filters.may_filter_by_agent(archive, user) else {})
    quality = user.role is Role.QUALITY
    return SearchFiltersPublic(
        purposes=sorted(archive.config.purposes_for_role(user.role)), channels=list(Channel),
        directions=[d for d in Direction if d is not Direction.UNKNOWN],
        party=not archive.role_is_anonymised(user.role),
        agents=[AgentChoicePublic(name=name, team=team, identifiers=ids)
                for name, (team, ids) in choices.items()],
        review_filters=quality, queues=filters.queue_choices(archive) if quality else [],
        queue_statuses=[s.value for s in Status] if quality else [])
