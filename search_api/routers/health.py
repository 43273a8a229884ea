"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from search_api.deps import ArchiveDep
from search_api.schemas.health import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/healthz", responses={
    status.HTTP_503_SERVICE_UNAVAILABLE: {"model": HealthPublic,
                                          "description": "A component is not ok"}})
def healthz(archive: ArchiveDep, response: Response) -> HealthPublic:
    """Each component's state; 503 when any is not ok."""
    health = HealthPublic.model_validate(archive.health())
    if not health.ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return health
