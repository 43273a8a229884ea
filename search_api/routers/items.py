"""Items: metadata, original content, transcripts."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from archive.errors import RangeNotSatisfiable
from archive.reading import Content, ContentSlice, RangePick
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


#: The most one range answer carries: an open range (``bytes=0-``, what a player asks
#: first) gets this much and the player asks for more as it plays.
MAX_RANGE_BYTES: Final = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _range_pick(item_id: str, first: str, last: str) -> RangePick:
    """The (start, length) an RFC 9110 byte range ``first-last`` asks of content ``size``
    bytes long. A suffix range (``-N``) is the last N bytes; an open one (``N-``) runs to
    the end; both are capped at ``MAX_RANGE_BYTES``."""

    def pick(size: int) -> tuple[int, int]:
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:
            if int(last) == 0:
                raise RangeNotSatisfiable(item_id, size=size)
            start, end = max(0, size - int(last)), size - 1
        if start >= size:
            raise RangeNotSatisfiable(item_id, size=size)
        return start, min(end - start + 1, MAX_RANGE_BYTES)

    return pick


def _one_range(spec: str | None) -> tuple[str, str] | None:
    """The two ends of a Range header that is one byte range, else None: several ranges
    or a malformed header are ignored (the whole content is sent), as RFC 9110 allows."""
    match = _RANGE.fullmatch(spec.replace(" ", "")) if spec is not None else None
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first and last and int(last) < int(first):
        return None
    return first, last


@router.get("/{item_id}/audio", response_class=Response, responses={
    200: {"description": "A call's audio as a browser plays it: 16-bit PCM WAV derived at "
                         "ingest when the original is in another format (GSM, MP3, ...), "
                         "else the original",
          "content": {"audio/wav": _BINARY}},
    206: {"description": "The byte range the Range header asked for (one range, at most "
                         "1 MiB per answer): players stream the call while it plays",
          "content": {"audio/wav": _BINARY}},
    **READ_ERRORS, **error_responses(416),
})
def get_audio(
    item_id: str, archive: ArchiveDep, user: CurrentUser, purpose: PurposeQuery = None,
    range_: Annotated[str | None, Header(alias="Range", max_length=200,
                                         description="one byte range, e.g. bytes=0-")] = None,
) -> Response:
    ends = _one_range(range_)
    if ends is None:
        response = _file_response(item_id, archive.read_audio(user, item_id, purpose=purpose))
        response.headers["Accept-Ranges"] = "bytes"
        return response
    part = archive.read_audio_range(user, item_id, _range_pick(item_id, *ends),
                                    purpose=purpose)
    return _slice_response(item_id, part)


def _slice_response(item_id: str, part: ContentSlice) -> Response:
    response = _file_response(item_id, part.content)
    response.status_code = 206
    end = part.start + len(part.content.data) - 1
    response.headers["Content-Range"] = f"bytes {part.start}-{end}/{part.size}"
    response.headers["Accept-Ranges"] = "bytes"
    return response


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
