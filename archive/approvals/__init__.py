"""Two-person control: destructive or widening actions run only once a second person
of the same role approves what the first proposed, with its dry run.

Modules (above ``rights`` and ``holds``, whose operations they run):

    tables   the ``approvals`` table on the catalog metadata
    actions  per action: the role, the preview (dry run), the run, the scope compared
             at execution
    core     propose, approve (runs it), reject, expire, list

The CLI runs the operations directly, as an audited break-glass path.
"""

from __future__ import annotations

from archive.approvals.actions import ACTIONS, ApprovalAction
from archive.approvals.core import (
    DEFAULT_EXPIRY_HOURS,
    Approval,
    ApprovalStatus,
    approve,
    expire_due,
    get_approval,
    list_approvals,
    propose,
    reject,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_EXPIRY_HOURS",
    "Approval",
    "ApprovalAction",
    "ApprovalStatus",
    "approve",
    "expire_due",
    "get_approval",
    "list_approvals",
    "propose",
    "reject",
]
