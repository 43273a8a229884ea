"""Closed request cases keep their personal data for a set time, then only the facts.

A closed case is the record that a request was answered (Art. 5(2)
accountability), so it outlives the request, but not for ever (Art. 5(1)(e)):
``[privacy_office] closed_case_retention_days`` after closing, every retention
sweep strips it to what proves the office did its work without saying for whom:
kind, channel, dates, deadline, outcome, who handled each step and the step
counts. Gone are the person's identifiers, the sealed notes (requester, reply,
reasons) and the lookup's item list (which items were this person's says who
the person is); the case's sealed notes are overwritten, so its wrapped note
keys go with them. Open cases are never touched, however old. The sweep's
dry run lists what would be stripped; the real one is one audited write.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa

from archive.model import now_utc
from archive.rights.case_tables import case_items, cases
from archive.service import Archive

SOURCE: Final = "privacy cases"
#: What an expired case's notes column holds: nothing sealed, nothing to open.
EXPIRED_NOTES: Final = b""


def due_for_expiry(archive: Archive, now: datetime) -> list[int]:
    """Ids of closed cases whose retention after closing has run out."""
    cutoff = now - timedelta(days=archive.config.privacy_office.closed_case_retention_days)
    with archive.catalog.read() as conn:
        return [int(i) for i in conn.execute(
            sa.select(cases.c.id).where(cases.c.status == "closed",
                                        cases.c.expired_at.is_(None),
                                        cases.c.closed_at <= cutoff)
            .order_by(cases.c.id)).scalars()]


def expire_cases(archive: Archive, now: datetime | None = None, *, dry_run: bool = False,
                 actor: str) -> list[int]:
    """Strip closed cases past their retention to their facts; the ids (audited)."""
    now = now or now_utc()
    due = due_for_expiry(archive, now)
    if dry_run or not due:
        return due
    with archive.vault.write() as tx:
        counts = {int(case_id): int(n) for case_id, n in tx.conn.execute(
            sa.select(case_items.c.case_id, sa.func.count())
            .where(case_items.c.case_id.in_(due)).group_by(case_items.c.case_id))}
        tx.conn.execute(case_items.delete().where(case_items.c.case_id.in_(due)))
        tx.conn.execute(cases.update().where(cases.c.id.in_(due)).values(
            identifiers="[]", sealed=EXPIRED_NOTES, expired_at=now,
            items_reviewed=sa.case(
                *((cases.c.id == case_id, n) for case_id, n in counts.items()), else_=0)
            if counts else 0))
        tx.event(actor=actor, role="system", action="cases_expired",
                 detail={"cases": due, "retention_days":
                         archive.config.privacy_office.closed_case_retention_days})
    return due


def install(archive: Archive) -> None:
    """Hook closed cases' expiry into every retention sweep of this archive."""

    def sweep(now: datetime, dry_run: bool, actor: str) -> dict[str, Any]:
        return {"source": SOURCE, "purged": expire_cases(archive, now, dry_run=dry_run,
                                                         actor=actor)}

    archive.outside_sweepers.append(sweep)
