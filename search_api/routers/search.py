"""Search within what the caller's role and purposes allow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from archive.index import SearchQuery
from search_api.deps import ArchiveDep, CurrentUser
from search_api.schemas import public_parties

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get("/search")
def search(
    archive: ArchiveDep,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=1000, description='words (ANDed) and "phrases"')] = "",
    channel: Annotated[str | None, Query(pattern="^(email|call)$")] = None,
    party: Annotated[str | None, Query(max_length=600)] = None,
    subject: Annotated[str | None, Query(max_length=600)] = None,
    purpose: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_restricted: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    page = archive.search(
        user,
        SearchQuery(
            text=q, channel=channel, party=party, subject=subject,
            purposes=frozenset({purpose}) if purpose else None,
            since=since, until=until, include_restricted=include_restricted,
            limit=limit, offset=offset,
        ),
    )
    anonymised = archive.role_is_anonymised(user.role)
    items = []
    for hit in page.result.hits:
        record = page.records.get(hit.item_id)
        if record is None:  # purged between index and catalog read
            continue
        items.append({
            "id": record.id,
            "channel": record.channel.value,
            "direction": record.direction.value,
            "started_at": record.started_at.isoformat(),
            "duration_s": record.duration_s,
            "status": record.status.value,
            "transcript_status": record.transcript_status.value,
            "parties": public_parties(record, anonymised=anonymised),
            "purposes": sorted(record.purpose_names),
            "title": hit.title,
            "snippet": hit.snippet,
            "speaker": hit.speaker,
            "offset_s": hit.start_s,
            "score": hit.score,
        })
    return {"total": page.result.total, "limit": limit, "offset": offset, "items": items}
