"""Admin: catalog state without content (e.g. messages stored unparsed, for review)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from archive.config import Role
from archive.model import ItemStatus
from archive.users import User
from search_api.deps import ArchiveDep, require_roles

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
AdminOrPrivacy = Annotated[User, Depends(require_roles(Role.ADMIN, Role.PRIVACY))]


@router.get("/items")
def list_items(
    archive: ArchiveDep,
    user: AdminOrPrivacy,
    status: ItemStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Items by status, newest first: ids, status and reason, sizes; never content.

    Admins see no parties (personal data); privacy staff do.
    """
    records = archive.list_records(status=status, limit=limit, offset=offset)
    archive.audit.record(actor=user.name, role=user.role.value, action="list_items",
                         detail={"status": status.value if status else None,
                                 "count": len(records)})
    items = []
    for r in records:
        entry: dict[str, Any] = {
            "id": r.id, "channel": r.channel.value, "source": r.source,
            "status": r.status.value, "status_reason": r.status_reason,
            "ingested_at": r.ingested_at.isoformat(), "size_bytes": r.size_bytes,
            "restricted": r.restricted, "held": r.held,
            "purposes": sorted(r.purpose_names),
        }
        if user.role is Role.PRIVACY:
            entry["parties"] = [{"role": p.role.value, "address": p.address} for p in r.parties]
        items.append(entry)
    return {"items": items}
