"""Two-person control in the archive itself (``archive.approvals``): the rules hold for
every caller, not only the HTTP API."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from archive import approvals
from archive.approvals import ApprovalAction, ApprovalStatus
from archive.config import Role
from archive.errors import AccessDenied, ArchiveError, ErrorCode, InvalidRequest
from archive.model import now_utc
from archive.service import Archive
from tests.conftest import email_item

ANNA = "anna@customer.nl"


def _erasure(archive: Archive, **kw: object) -> approvals.Approval:
    archive.ingest(email_item(customer=ANNA, body="hello"))
    return approvals.propose(archive, ApprovalAction.ERASE, {"identifiers": [ANNA]},
                             actor="officer-a", role=Role.PRIVACY, **kw)  # type: ignore[arg-type]


def test_two_officers_approving_at_once_run_the_action_once(archive: Archive) -> None:
    proposal = _erasure(archive)
    outcomes: list[str] = []

    def approve(name: str) -> None:
        try:
            approvals.approve(archive, proposal.id, actor=name, role=Role.PRIVACY)
            outcomes.append("executed")
        except ArchiveError as exc:
            outcomes.append(exc.code.value)

    threads = [threading.Thread(target=approve, args=(f"officer-{n}",)) for n in "bc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["approval_closed", "executed"]
    assert len(archive.audit.events(action="approval_execute", limit=10)) == 1


def test_the_clock_decides_expiry_and_the_expiry_is_audited_once(archive: Archive) -> None:
    start = now_utc()
    proposal = _erasure(archive, now=start, expiry_hours=2)
    assert approvals.expire_due(archive, now=start + timedelta(hours=1)) == []
    later = start + timedelta(hours=2, seconds=1)
    with pytest.raises(InvalidRequest) as err:
        approvals.approve(archive, proposal.id, actor="officer-b", role=Role.PRIVACY, now=later)
    assert err.value.code is ErrorCode.APPROVAL_EXPIRED
    assert approvals.get_approval(archive, proposal.id, now=later).status is ApprovalStatus.EXPIRED
    assert approvals.expire_due(archive, now=later + timedelta(days=1)) == []
    assert len(archive.audit.events(action="approval_expire", limit=10)) == 1


def test_the_proposer_may_withdraw_but_never_approve(archive: Archive) -> None:
    proposal = _erasure(archive)
    with pytest.raises(AccessDenied) as err:
        approvals.approve(archive, proposal.id, actor="officer-a", role=Role.PRIVACY)
    assert err.value.code is ErrorCode.OWN_PROPOSAL
    withdrawn = approvals.reject(archive, proposal.id, actor="officer-a", role=Role.PRIVACY)
    assert withdrawn.status is ApprovalStatus.REJECTED and withdrawn.result is None
