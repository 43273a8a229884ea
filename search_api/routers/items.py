"""Items: metadata, original content, transcripts."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from archive.reading import Content
from archive.vault import PART_ORIGINAL, PART_TRANSCRIPT
from search_api.deps import ArchiveDep, CurrentUser
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.schemas.items import ItemPublic, TranscriptPublic

router = APIRouter(prefix="/api/v1/items", tags=["items"], responses=AUTHENTICATED_ERRORS)
PurposeQuery = Annotated[str | None, Query(max_length=64, description="read through this purpose")]
#: What reading an item can answer beyond a bad token or role.
READ_ERRORS = error_responses(404, 410, 422, 500)
_BINARY = {"schema": {"type": "string", "format": "binary"}}
#: File extensions for the media types an item's original can have.
_EXTENSIONS = {"message/rfc822": "eml", "audio/wav": "wav", "audio/mpeg": "mp3",
               "audio/flac": "flac", "audio/ogg": "ogg"}


@router.get("/{item_id}", responses=READ_ERRORS)
def get_item(item_id: str, archive: ArchiveDep, user: CurrentUser) -> ItemPublic:
    return ItemPublic.of_view(archive.get_item(user, item_id))


@router.get("/{item_id}/content", response_class=Response, responses={
    200: {"description": "The original, exactly as archived, in its own media type",
          "content": {"message/rfc822": _BINARY, "audio/wav": _BINARY, "audio/mpeg": _BINARY,
                      "audio/flac": _BINARY, "audio/ogg": _BINARY}},
    **READ_ERRORS,
})
def get_content(
    item_id: str, archive: ArchiveDep, user: CurrentUser, purpose: PurposeQuery = None,
) -> Response:
    content = archive.read_content(user, item_id, part=PART_ORIGINAL, purpose=purpose)
    return _file_response(item_id, content)


@router.get("/{item_id}/audio", response_class=Response, responses={
    200: {"description": "A call's audio as a browser plays it: 16-bit PCM WAV derived at "
                         "ingest when the original is in another format (GSM, MP3, ...), "
                         "else the original",
          "content": {"audio/wav": _BINARY}},
    **READ_ERRORS,
})
def get_audio(
    item_id: str, archive: ArchiveDep, user: CurrentUser, purpose: PurposeQuery = None,
) -> Response:
    return _file_response(item_id, archive.read_audio(user, item_id, purpose=purpose))


def _file_response(item_id: str, content: Content) -> Response:
    ext = _EXTENSIONS.get(content.content_type.split(";")[0], "txt")
    return Response(
        bytes(content.data),
        media_type=content.content_type,
        headers={
            "Content-Disposition": f'inline; filename="{item_id}.{ext}"',
            "X-Read-Through-Purpose": content.purpose,
            "Cache-Control": "no-store",
        },
    )


@router.get("/{item_id}/transcript", responses=READ_ERRORS)
def get_transcript(
    item_id: str, archive: ArchiveDep, user: CurrentUser, purpose: PurposeQuery = None,
) -> TranscriptPublic:
    content = archive.read_content(user, item_id, part=PART_TRANSCRIPT, purpose=purpose)
    transcript: dict[str, Any] = json.loads(content.data)
    return TranscriptPublic(item_id=item_id, read_through=content.purpose,
                            transcript=transcript)
