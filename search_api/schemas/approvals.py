"""Two-person control: proposals, their dry runs, decisions and outcomes."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from archive.approvals import ApprovalAction, ApprovalStatus
from search_api.schemas.common import BodyModel, PublicModel, Timestamp


class ApprovalProposedPublic(PublicModel):
    """The ``202`` answer of a destructive request: nothing happened yet."""

    approval_id: int
    action: ApprovalAction
    status: ApprovalStatus
    expires_at: Timestamp
    required_role: str = Field(description="a different user of this role must approve")
    dry_run: dict[str, Any] = Field(description="exactly what approving will do (the "
                                                "operation's own dry run)")


class ApprovalPublic(PublicModel):
    id: int
    action: ApprovalAction
    params: dict[str, Any] = Field(description="what the action runs with")
    required_role: str
    dry_run: dict[str, Any] = Field(description="what the approver was shown")
    case_id: int | None = Field(description="the request case it was made for")
    status: ApprovalStatus
    proposed_by: str
    proposed_at: Timestamp
    expires_at: Timestamp
    decided_by: str | None
    decided_at: Timestamp | None
    note: str | None
    result: dict[str, Any] | None = Field(
        description="the outcome once run (e.g. the erasure certificate), or the error")
    drift: dict[str, Any] | None = Field(
        description="where the dry run taken again at execution differed from the approved "
                    "one (null: it did not)")


class ApprovalDecision(BodyModel):
    note: str | None = Field(default=None, max_length=2000)


class KeyRetireCreate(BodyModel):
    case_id: int | None = None
