"""Items: metadata, original content, transcripts."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from archive.vault import PART_ORIGINAL, PART_TRANSCRIPT
from search_api.deps import ArchiveDep, CurrentUser
from search_api.schemas import public_record

router = APIRouter(prefix="/api/v1/items", tags=["items"])
PurposeQuery = Annotated[str | None, Query(max_length=64, description="read through this purpose")]


@router.get("/{item_id}")
def get_item(item_id: str, archive: ArchiveDep, user: CurrentUser) -> dict[str, Any]:
    view = archive.get_item(user, item_id)
    anonymised = view.anonymised  # as the details were: by the purpose read through
    body = public_record(view.record, anonymised=anonymised)
    body["details"] = view.details
    body["read_through"] = view.purpose
    body["channels"] = view.details.get("channels", [])
    body["annotations"] = view.annotations
    body["disclosures"] = [] if anonymised else view.disclosures
    return body


@router.get("/{item_id}/content")
def get_content(
    item_id: str, archive: ArchiveDep, user: CurrentUser, purpose: PurposeQuery = None,
) -> Response:
    content = archive.read_content(user, item_id, part=PART_ORIGINAL, purpose=purpose)
    ext = "eml" if content.content_type == "message/rfc822" else (
        "wav" if content.content_type.startswith("audio/") else "txt")
    return Response(
        bytes(content.data),
        media_type=content.content_type,
        headers={
            "Content-Disposition": f'inline; filename="{item_id}.{ext}"',
            "X-Read-Through-Purpose": content.purpose,
            "Cache-Control": "no-store",
        },
    )


@router.get("/{item_id}/transcript")
def get_transcript(
    item_id: str, archive: ArchiveDep, user: CurrentUser, purpose: PurposeQuery = None,
) -> dict[str, Any]:
    content = archive.read_content(user, item_id, part=PART_TRANSCRIPT, purpose=purpose)
    transcript: dict[str, Any] = json.loads(content.data)
    return {"item_id": item_id, "read_through": content.purpose, "transcript": transcript}
