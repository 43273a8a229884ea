"""The review queue: what waits for a person, why, who has it, and how far it is.

Entries come from the sampler (``sample``), monitoring policies (``policy``,
with the hits' positions for highlighting), a reviewer (``manual``) or a
calibration round (``calibration``). Status moves open -> in_review -> done
(submitting a review marks the item's entries done). An entry never decides
anything about anyone: it only asks a person to look (privacy statement §9g).
Only items still carrying ``quality`` and not restricted are listed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import catalog as cat
from archive import quality_tables as qt
from archive.config import Role
from archive.errors import AccessDenied, ErrorCode, InvalidRequest
from archive.model import now_utc
from archive.quality import reviews, scorecards
from archive.quality.agents import agent_of
from archive.service import Archive
from archive.users import User

MAX_LIST: Final = 500


class Status(StrEnum):
    OPEN = "open"
    IN_REVIEW = "in_review"
    DONE = "done"


class Source(StrEnum):
    SAMPLE = "sample"
    POLICY = "policy"
    MANUAL = "manual"
    CALIBRATION = "calibration"


def _require_quality(user: User) -> None:
    if user.role is not Role.QUALITY:
        raise AccessDenied(ErrorCode.WRONG_ROLE, f"role {user.role.value} has no review queue")


def add(conn: Connection, archive: Archive, item_id: str, source: Source, *,
        policy: str = "", hits: Sequence[dict[str, Any]] = ()) -> int | None:
    """Put an item in the queue (inside a write transaction); None when it is there
    already for the same source and policy, or is not for the quality team."""
    record = archive.vault.records(conn, [item_id]).get(item_id)
    if record is None or reviews.QUALITY_PURPOSE not in record.purpose_names:
        return None
    found = conn.execute(sa.select(qt.queue.c.id).where(
        qt.queue.c.item_id == item_id, qt.queue.c.source == source.value,
        qt.queue.c.policy == policy)).first()
    if found is not None:
        return None
    result = conn.execute(qt.queue.insert().values(
        item_id=item_id, source=source.value, policy=policy, agent=agent_of(record),
        hits=json.dumps(list(hits)), status=Status.OPEN.value, created_at=now_utc()))
    return cat.inserted_id(result)


def add_manual(archive: Archive, user: User, item_id: str, *,
               calibration: bool = False) -> int:
    """A reviewer puts an item in the queue (or opens a calibration round on it)."""
    _require_quality(user)
    archive.authorize(user, archive.record(item_id), reviews.QUALITY_PURPOSE)
    source = Source.CALIBRATION if calibration else Source.MANUAL
    with archive.vault.write() as tx:
        entry = add(tx.conn, archive, item_id, source)
        if entry is None:
            raise InvalidRequest(f"item {item_id} is in the queue already ({source.value})",
                                 code=ErrorCode.CONFLICT)
        tx.event(actor=user.name, role=user.role.value, action="quality_queue_add",
                 item_ids=[item_id], detail={"entry": entry, "source": source.value})
    return entry


def public(row: Any) -> dict[str, Any]:
    return {"id": int(row.id), "item_id": str(row.item_id), "source": str(row.source),
            "policy": str(row.policy), "agent": str(row.agent),
            "hits": json.loads(row.hits), "status": str(row.status),
            "assignee": row.assignee, "created_at": row.created_at}


def listing(archive: Archive, user: User, *, status: Status | None = None,
            assignee: str | None = None, source: Source | None = None,
            limit: int = 100) -> list[dict[str, Any]]:
    """Queue entries on items the quality team may still read, oldest first."""
    _require_quality(user)
    q = qt.queue
    carrying = sa.select(cat.purpose_tags.c.item_id).where(
        cat.purpose_tags.c.purpose == reviews.QUALITY_PURPOSE,
        cat.purpose_tags.c.retain_until > now_utc(), cat.purpose_tags.c.item_id == q.c.item_id)
    stmt = (sa.select(q).join(cat.items, cat.items.c.id == q.c.item_id)
            .where(sa.exists(carrying), cat.items.c.restricted.is_(False)))
    if status is not None:
        stmt = stmt.where(q.c.status == status.value)
    if assignee is not None:
        stmt = stmt.where(q.c.assignee == assignee)
    if source is not None:
        stmt = stmt.where(q.c.source == source.value)
    with archive.catalog.read() as conn:
        rows = conn.execute(stmt.order_by(q.c.id).limit(min(limit, MAX_LIST))).all()
    # The entries name items and where a policy hit them: a read like any other.
    archive.audit.record(actor=user.name, role=user.role.value, action="quality_queue_read",
                         purpose=reviews.QUALITY_PURPOSE,
                         item_ids=sorted({str(r.item_id) for r in rows}))
    return [public(r) for r in rows]


def entry(archive: Archive, user: User, entry_id: int) -> dict[str, Any]:
    _require_quality(user)
    with archive.catalog.read() as conn:
        row = conn.execute(sa.select(qt.queue).where(qt.queue.c.id == entry_id)).first()
    if row is None:
        raise InvalidRequest(f"queue entry {entry_id} does not exist", code=ErrorCode.NOT_FOUND)
    archive.authorize(user, archive.record(str(row.item_id)), reviews.QUALITY_PURPOSE)
    archive.audit.record(actor=user.name, role=user.role.value, action="quality_queue_read",
                         purpose=reviews.QUALITY_PURPOSE, item_ids=[str(row.item_id)],
                         detail={"entry_id": entry_id})
    return public(row)


def update(archive: Archive, user: User, entry_id: int, *, status: Status | None = None,
           assignee: str | None = None, unassign: bool = False) -> dict[str, Any]:
    """Assign an entry to a reviewer (a quality user) and move its status; audited."""
    current = entry(archive, user, entry_id)
    values: dict[str, Any] = {}
    if assignee is not None:
        known = {u.name: u.role for u in archive.users.list()}
        if known.get(assignee) is not Role.QUALITY:
            raise InvalidRequest(f"queue entry {entry_id}: {assignee!r} is not a reviewer "
                                 "(a user of role quality)")
        values["assignee"] = assignee
    if unassign:
        values["assignee"] = None
    if status is not None:
        values["status"] = status.value
    if not values:
        return current
    with archive.vault.write() as tx:
        tx.conn.execute(qt.queue.update().where(qt.queue.c.id == entry_id).values(values))
        tx.event(actor=user.name, role=user.role.value, action="quality_queue_update",
                 item_ids=[current["item_id"]],
                 detail={"entry": entry_id, **{k: v for k, v in values.items()}})
    return {**current, **values}


def spread(archive: Archive, user: User, item_id: str) -> dict[str, Any]:
    """A calibration round's result: every submitted calibration review of the item,
    and per criterion each reviewer's value and the spread (max - min, 0..100).
    Blind: only for a reviewer who submitted its own calibration review."""
    _require_quality(user)
    archive.authorize(user, archive.record(item_id), reviews.QUALITY_PURPOSE)
    r = qt.reviews
    with archive.catalog.read() as conn:
        rows = conn.execute(sa.select(r).where(
            r.c.item_id == item_id, r.c.calibration.is_(True), r.c.submitted_at.is_not(None))
            .order_by(r.c.reviewer)).all()
    if user.name not in {row.reviewer for row in rows}:
        raise AccessDenied(ErrorCode.WRONG_ROLE, "calibration is blind: submit your own "
                           "review of this item first", item_id=item_id)
    per: dict[str, dict[str, float | None]] = {}
    cards = {int(row.scorecard_id) for row in rows}
    card = scorecards.load(archive, min(cards))
    labels = {c.id: c.label for c in card.criteria}
    for row in rows:
        got = reviews.get(archive, user, int(row.id))
        values = scorecards.score(scorecards.load(archive, int(row.scorecard_id)),
                                  got["answers"]).values
        for cid, value in values.items():
            per.setdefault(cid, {})[str(row.reviewer)] = (
                None if value is None else round(100 * value, 1))
    criteria = []
    for cid, by in per.items():
        counted = [v for v in by.values() if v is not None]
        criteria.append({"id": cid, "label": labels.get(cid, cid), "values": by,
                         "spread": round(max(counted) - min(counted), 1) if counted else None})
    scores = {str(row.reviewer): row.score for row in rows}
    counted_scores = [float(s) for s in scores.values() if s is not None]
    return {"item_id": item_id, "reviewers": sorted(scores), "scores": scores,
            "score_spread": round(max(counted_scores) - min(counted_scores), 1),
            "scorecard": card.name, "mixed_versions": len(cards) > 1, "criteria": criteria}
