"""The reader's views: an e-mail as header card, bodies and attachments (not raw
source); a call's waveform.

Reads go through the archive's reader like every content read (role, purpose,
audit). Read through an anonymised purpose (trainers) only the redacted text of
the anonymised view comes back; attachments are never anonymised, so none of
them is listed or served to such a reader.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from fastapi import APIRouter, Query
from fastapi.responses import Response

from archive.errors import AccessDenied, ErrorCode, InvalidRequest
from archive.model import Channel, ItemStatus
from archive.vault import PART_ORIGINAL
from search_api.deps import ArchiveDep, CurrentUser
from search_api.errors import AUTHENTICATED_ERRORS
from search_api.mail_view import attachment, message_view
from search_api.routers.items import READ_ERRORS, PurposeQuery
from search_api.schemas.messages import MessagePublic
from search_api.schemas.waveform import WaveformPublic
from search_api.waveform import MAX_POINTS, wav_peaks

router = APIRouter(prefix="/api/v1/items", tags=["items"], responses=AUTHENTICATED_ERRORS)
#: Media types a browser may show inline from an attachment; anything else downloads
#: as bytes (an HTML or SVG attachment must never run as this site's page).
_INLINE_TYPES: Final = frozenset({"text/plain", "application/pdf", "image/png", "image/jpeg",
                                  "image/gif"})
_UNSAFE_NAME: Final = re.compile(r'[^\w.\- ]')


def _email(archive: ArchiveDep, user: CurrentUser, item_id: str, purpose: str | None) -> None:
    """Refuse what is not a parsed e-mail, once the caller is known to may read it."""
    record = archive.record(item_id)
    archive.authorize(user, record, purpose)
    if record.channel is not Channel.EMAIL:
        raise InvalidRequest(f"item {item_id} is not an e-mail", code=ErrorCode.NOT_FOUND)
    if record.status is ItemStatus.UNPARSED:
        raise InvalidRequest(f"item {item_id} could not be parsed at ingest "
                             f"({record.status_reason}); read its original source instead",
                             code=ErrorCode.NOT_FOUND)


@router.get("/{item_id}/message", responses=READ_ERRORS)
def get_message(item_id: str, archive: ArchiveDep, user: CurrentUser,
                purpose: PurposeQuery = None) -> MessagePublic:
    """An e-mail as a reader sees it; audited as a read of its original."""
    _email(archive, user, item_id, purpose)
    content = archive.read_content(user, item_id, part=PART_ORIGINAL, purpose=purpose)
    if content.anonymised:
        return MessagePublic.anonymised_text(item_id, content.purpose, content.data.decode())
    return MessagePublic.of_view(item_id, content.purpose, message_view(content.data))


@router.get("/{item_id}/attachments/{index}", response_class=Response, responses={
    200: {"description": "The attachment's decoded bytes, as a download",
          "content": {"application/octet-stream": {"schema": {"type": "string",
                                                              "format": "binary"}}}},
    **READ_ERRORS,
})
def get_attachment(item_id: str, index: int, archive: ArchiveDep, user: CurrentUser,
                   purpose: PurposeQuery = None) -> Response:
    """One attachment of an e-mail, for roles that read the item in full; audited."""
    _email(archive, user, item_id, purpose)
    content = archive.read_content(user, item_id, part=PART_ORIGINAL, purpose=purpose)
    if content.anonymised:
        raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                           f"attachments have no anonymised form; read through "
                           f"{content.purpose!r} only the redacted text is shown",
                           item_id=item_id)
    found = attachment(content.data, index)
    if found is None:
        raise InvalidRequest(f"item {item_id} has no attachment {index}",
                             code=ErrorCode.NOT_FOUND)
    info, data = found
    name = _UNSAFE_NAME.sub("_", info.filename or f"attachment-{index}")[:200]
    media_type = info.content_type if info.content_type in _INLINE_TYPES else \
        "application/octet-stream"
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
        "X-Read-Through-Purpose": content.purpose,
    })


@router.get("/{item_id}/waveform", responses=READ_ERRORS)
def get_waveform(
    item_id: str, archive: ArchiveDep, user: CurrentUser, purpose: PurposeQuery = None,
    points: Annotated[int, Query(ge=10, le=MAX_POINTS)] = 600,
) -> WaveformPublic:
    """Peaks of a call's audio per channel (bleeped audio for anonymised reads); audited."""
    content = archive.read_audio(user, item_id, purpose=purpose)
    try:
        peaks = wav_peaks(content.data, points)
    except ValueError as exc:
        raise InvalidRequest(f"item {item_id} has no waveform: {exc}",
                             code=ErrorCode.NOT_FOUND) from None
    return WaveformPublic(item_id=item_id, read_through=content.purpose,
                          duration_s=round(peaks.duration_s, 3), channels=peaks.channels)
