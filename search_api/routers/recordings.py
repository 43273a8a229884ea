"""Call recording upload (role ingest): a PBX recording plus its JSON sidecar, 201 once durable.

The body is read only after the token is checked, with its size capped while it
streams in, and parsed in memory: call audio never touches disk unsealed (a form
parser would spool large parts to a temporary file).
"""

from __future__ import annotations

import asyncio
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Final

from fastapi import APIRouter, Request, Response, status

from archive.errors import ErrorCode, InvalidRequest
from archive.service import Archive
from ingest.calls import CallInputError, ingest_call_file
from search_api.deps import ArchiveDep, IngestUser
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.schemas.recordings import RecordingPublic

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"],
                   responses=AUTHENTICATED_ERRORS)

MAX_UPLOAD_BYTES: Final = 512 * 1024 * 1024
MAX_BODY_BYTES: Final = MAX_UPLOAD_BYTES + 1024 * 1024
SOURCE: Final = "upload"
_BODY_SCHEMA: Final = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["audio", "metadata"],
            "properties": {
                "audio": {"type": "string", "format": "binary",
                          "description": "A recording: PCM, G.711, GSM 6.10 or "
                                         "IMA ADPCM WAV, MP3, FLAC, Ogg/Opus"},
                "metadata": {"type": "string",
                             "description": "JSON sidecar: call_id, from, to, agent, "
                                            "direction, start"},
            },
        }}},
    }
}


def _too_large() -> InvalidRequest:
    return InvalidRequest(f"recording upload over {MAX_UPLOAD_BYTES} bytes",
                          code=ErrorCode.TOO_LARGE)


def _form_parts(content_type: str, body: bytes) -> tuple[bytes, bytes]:
    """The ``audio`` and ``metadata`` parts of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    children = message.get_payload() if message.is_multipart() else None
    if not isinstance(children, list):
        raise InvalidRequest("expected multipart/form-data with parts 'audio' and 'metadata'")
    parts: dict[str, bytes] = {}
    for part in children:
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = payload
    missing = [n for n in ("audio", "metadata") if n not in parts]
    if missing:
        raise InvalidRequest(f"multipart body lacks part(s) {', '.join(missing)}")
    if len(parts["audio"]) > MAX_UPLOAD_BYTES:
        raise _too_large()
    return parts["audio"], parts["metadata"]


def _archive(archive: Archive, actor: str, audio: bytes, metadata: bytes) -> dict[str, Any]:
    try:
        outcome = ingest_call_file(archive, audio, metadata, source=SOURCE, actor=actor)
    except CallInputError as exc:
        raise InvalidRequest(exc.reason) from None
    return {
        "item_id": outcome.ingest.item_id,
        "created": outcome.ingest.created,
        "duration_s": outcome.duration_s,
        "channels": outcome.channels,
    }


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=_BODY_SCHEMA,
             response_model=RecordingPublic, responses={
                 200: {"model": RecordingPublic,
                       "description": "Already archived: the earlier item"},
                 **error_responses(400, 409, 413)})
async def upload_recording(
    request: Request, archive: ArchiveDep, user: IngestUser, response: Response
) -> dict[str, Any]:
    """Archive one call recording; 201 only when it is durable (200 for a repeat upload)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidRequest("expected multipart/form-data with parts 'audio' and 'metadata'")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    audio, metadata = await asyncio.to_thread(_form_parts, content_type, bytes(body))
    outcome = await asyncio.to_thread(_archive, archive, user.name, audio, metadata)
    if not outcome["created"]:
        response.status_code = status.HTTP_200_OK
    return outcome
