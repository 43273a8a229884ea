"""Admin: catalog state without content (e.g. messages stored unparsed, for review)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from archive.config import CONFIG_FILE_NAME, Role, example_values, example_warning
from archive.model import ItemStatus
from archive.users import User
from search_api.deps import AdminUser, ArchiveDep, require_roles
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.schemas.items import ItemSummariesPublic, ItemSummaryPublic
from search_api.schemas.session import SetupPublic

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=AUTHENTICATED_ERRORS)
AdminOrPrivacy = Annotated[User, Depends(require_roles(Role.ADMIN, Role.PRIVACY))]


# ``parties`` is sent to privacy staff only: the key is absent (not null) for admins.
@router.get("/items", responses=error_responses(422), response_model_exclude_unset=True)
def list_items(
    archive: ArchiveDep,
    user: AdminOrPrivacy,
    status: ItemStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ItemSummariesPublic:
    """Items by status, newest first: ids, status and reason, sizes; never content.

    Admins see no parties (personal data); privacy staff do.
    """
    records = archive.list_records(status=status, limit=limit, offset=offset)
    archive.audit.record(actor=user.name, role=user.role.value, action="list_items",
                         detail={"status": status.value if status else None,
                                 "count": len(records)})
    return ItemSummariesPublic(items=[ItemSummaryPublic.of_record(r, role=user.role)
                                      for r in records])


@router.get("/setup")
def setup(archive: ArchiveDep, user: AdminUser) -> SetupPublic:
    """What ``archive.toml`` still holds of the shipped example (the admin screen's banner)."""
    names = example_values(archive.config)
    return SetupPublic(example_values=list(names), warning=example_warning(
        names, str(archive.data_dir / CONFIG_FILE_NAME)) if names else None)
