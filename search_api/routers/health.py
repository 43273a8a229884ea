"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from search_api.deps import ArchiveDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(archive: ArchiveDep) -> JSONResponse:
    status: dict[str, Any] = archive.health()
    return JSONResponse(status, status_code=200 if status["ok"] else 503)
