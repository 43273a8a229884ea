"""Call recording upload (role ingest): a PBX WAV plus its JSON sidecar, 201 once durable."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Form, Response, UploadFile, status

from archive.errors import ErrorCode, InvalidRequest
from ingest.calls import (
    CallInputError,
    NumberingPlan,
    build_call_item,
    parse_sidecar,
    recording_from_file,
)
from search_api.deps import ArchiveDep, IngestUser

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"])

MAX_UPLOAD_BYTES: Final = 512 * 1024 * 1024
SOURCE: Final = "upload"


@router.post("", status_code=status.HTTP_201_CREATED)
def upload_recording(
    archive: ArchiveDep,
    user: IngestUser,
    response: Response,
    audio: Annotated[UploadFile, File(description="WAV: mono/stereo, 8/16 kHz, PCM/µ-law/A-law")],
    metadata: Annotated[
        str, Form(description="JSON sidecar: call_id, from, to, agent, direction, start")
    ],
) -> dict[str, Any]:
    """Archive one call recording; 201 only when it is durable (200 for a repeat upload)."""
    data = audio.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidRequest("recording too large", code=ErrorCode.TOO_LARGE)
    plan = NumberingPlan.from_archive(archive)
    try:
        rec = recording_from_file(data, parse_sidecar(metadata), source=SOURCE, plan=plan)
    except CallInputError as exc:
        raise InvalidRequest(exc.reason) from None
    result = archive.ingest(build_call_item(rec, plan), actor=user.name)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return {
        "item_id": result.item_id,
        "created": result.created,
        "duration_s": round(rec.duration_s, 3),
        "channels": len(rec.channels),
    }
