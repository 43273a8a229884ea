"""Readiness: one bit for anyone, what is wrong only for the operators.

A load balancer or orchestrator probes without a token and needs only ready
or not ready. A failing component's text can name hosts, paths and index
names, so it goes only to admin and privacy staff (a token of another role
gets the one bit; a bad token is refused like anywhere else).
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Response, status

from archive.config import Role
from search_api.deps import ArchiveDep, OptionalUser
from search_api.errors import error_responses
from search_api.schemas.health import HealthPublic

router = APIRouter(tags=["health"])

#: Roles that see each component's state and error text.
DETAIL_ROLES: Final = frozenset({Role.ADMIN, Role.PRIVACY})


@router.get("/healthz", response_model_exclude_unset=True, responses={
    status.HTTP_503_SERVICE_UNAVAILABLE: {"model": HealthPublic,
                                          "description": "A component is not ok"},
    **error_responses(401)})
def healthz(archive: ArchiveDep, user: OptionalUser, response: Response) -> HealthPublic:
    """Ready or not (503); each component's state with an admin or privacy token."""
    health = archive.health()
    ok = bool(health["ok"])
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    if user is None or user.role not in DETAIL_ROLES:
        return HealthPublic(ok=ok)
    return HealthPublic(ok=ok, catalog=str(health["catalog"]), store=str(health["store"]),
                        index=str(health["index"]))
