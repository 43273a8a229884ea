"""Reviews and moment-anchored comments: sealed, audited, gone with their item.

A review's answers and summary, and every comment's text, are personal data
about the agent and the customer, so they are sealed like a transcript: parts
of the item (``quality@review-<id>``, ``quality@comment-<id>``) under the
item's DEK, unsealed only through the ``quality`` purpose. The catalog rows
keep who, when, the score and where a comment sits (seconds into a call, or
none for an e-mail), and cascade with the item: a purged or erased item takes
its reviews and comments with it, parts, rows and all; so does destroying the
item's ``quality`` key alone (retention, objection, an erasure that keeps the
item for a legal obligation): the parts and rows are bound to that purpose
(``archive.quality_tables.drop_purpose_bound``, ``purpose_part``).
Sealed texts are kept small enough to stay inline in the catalog, so no blob
outlives them.

What the statistics need survives in ``quality_aggregates`` (per agent, week,
scorecard and criterion: counts, score sums, failures; no item ids), updated
when a review is submitted. Calibration reviews do not count towards an
agent's statistics: they measure the reviewers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import catalog as cat
from archive import quality_tables as qt
from archive.config import Role
from archive.errors import AccessDenied, ErrorCode, InvalidRequest, StoreError, TemporaryFailure
from archive.model import Channel, ItemRecord, now_utc
from archive.quality import scorecards
from archive.quality.agents import agent_of, identifiers_of
from archive.quality_tables import purpose_part
from archive.service import Archive
from archive.users import User
from archive.vault import INLINE_MAX_BYTES

QUALITY_PURPOSE: Final = "quality"
COMMENT_MAX_CHARS: Final = 4000
SUMMARY_MAX_CHARS: Final = 8000


class Response:
    ACKNOWLEDGED: Final = "acknowledged"
    DISPUTED: Final = "disputed"


def review_part(review_id: int) -> str:
    return purpose_part(QUALITY_PURPOSE, f"review-{review_id}")


def comment_part(comment_id: int) -> str:
    return purpose_part(QUALITY_PURPOSE, f"comment-{comment_id}")


def week_of(when: datetime | date) -> date:
    """The Monday of ``when``'s ISO week: the unit of plans and statistics."""
    day = when.date() if isinstance(when, datetime) else when
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    item_id: str
    review_id: int | None
    author: str
    role: str
    at_seconds: float | None
    created_at: datetime
    text: str


def _authorize_quality(archive: Archive, user: User, item_id: str) -> ItemRecord:
    if user.role is not Role.QUALITY:
        raise AccessDenied(ErrorCode.WRONG_ROLE,
                           f"role {user.role.value} may not review items", item_id=item_id)
    record = archive.record(item_id)
    archive.authorize(user, record, QUALITY_PURPOSE)
    return record


def _seal(archive: Archive, conn: Connection, item_id: str, name: str, value: Any) -> None:
    vault = archive.vault
    dek = vault.dek(item_id, QUALITY_PURPOSE)
    data = json.dumps(value, ensure_ascii=False).encode()
    if len(data) > INLINE_MAX_BYTES:
        # Kept inline in the catalog row, so deleting the row deletes the text at once.
        raise InvalidRequest(f"item {item_id}: {name} is longer than {INLINE_MAX_BYTES} bytes",
                             code=ErrorCode.TOO_LARGE)
    try:
        row = vault.seal_part(item_id, name, data, "application/json", dek)
    except StoreError as exc:
        raise TemporaryFailure(f"seal {name} of {item_id}", reason=str(exc)) from exc
    conn.execute(cat.parts.delete().where(cat.parts.c.item_id == item_id,
                                          cat.parts.c.name == name))
    conn.execute(cat.parts.insert().values(**row))


def _unseal(archive: Archive, item_id: str, name: str) -> Any:
    vault = archive.vault
    return json.loads(vault.unseal(item_id, name, vault.dek(item_id, QUALITY_PURPOSE)))


def _review_row(conn: Connection, review_id: int) -> Any:
    row = conn.execute(sa.select(qt.reviews).where(qt.reviews.c.id == review_id)).first()
    if row is None:
        raise InvalidRequest(f"review {review_id} does not exist", code=ErrorCode.NOT_FOUND)
    return row


def start(archive: Archive, user: User, item_id: str, scorecard_id: int, *,
          calibration: bool = False) -> int:
    """Open a review of ``item_id`` on a scorecard version (one per reviewer and item,
    and one more for calibration); returns its id, the existing one if already open."""
    record = _authorize_quality(archive, user, item_id)
    with archive.vault.write() as tx:
        scorecards.get(tx.conn, scorecard_id)
        found = tx.conn.execute(sa.select(qt.reviews.c.id).where(
            qt.reviews.c.item_id == item_id, qt.reviews.c.reviewer == user.name,
            qt.reviews.c.calibration == calibration)).first()
        if found is not None:
            return int(found[0])
        result = tx.conn.execute(qt.reviews.insert().values(
            item_id=item_id, scorecard_id=scorecard_id, reviewer=user.name,
            agent=agent_of(record), calibration=calibration, failed=False,
            created_at=now_utc()))
        review_id = cat.inserted_id(result)
        tx.event(actor=user.name, role=user.role.value, action="quality_review_start",
                 purpose=QUALITY_PURPOSE, item_ids=[item_id],
                 detail={"review_id": review_id, "calibration": calibration})
    return review_id


def _add_aggregates(conn: Connection, agent: str, week: date, card: scorecards.Scorecard,
                    result: scorecards.Score) -> None:
    rows = [("", result.score, result.failed)]
    rows += [(cid, 100 * value, value == 0.0)
             for cid, value in result.values.items() if value is not None]
    agg = qt.aggregates
    for criterion, points, failure in rows:
        key = (agg.c.agent == agent, agg.c.week == week, agg.c.scorecard == card.name,
               agg.c.criterion == criterion)
        done = conn.execute(agg.update().where(*key).values(
            reviews=agg.c.reviews + 1, score_sum=agg.c.score_sum + points,
            failures=agg.c.failures + int(failure)))
        if not done.rowcount:
            conn.execute(agg.insert().values(
                agent=agent, week=week, scorecard=card.name, criterion=criterion, reviews=1,
                score_sum=points, failures=int(failure)))


def submit(archive: Archive, user: User, review_id: int, answers: dict[str, str],
           summary: str) -> scorecards.Score:
    """Score and seal a review (once: a submitted review is not rescored)."""
    if len(summary) > SUMMARY_MAX_CHARS:
        raise InvalidRequest(f"review {review_id}: the summary is longer than "
                             f"{SUMMARY_MAX_CHARS} characters")
    with archive.catalog.read() as conn:
        row = _review_row(conn, review_id)
        card = scorecards.get(conn, int(row.scorecard_id))
    if row.reviewer != user.name:
        raise AccessDenied(ErrorCode.WRONG_ROLE,
                           f"review {review_id} belongs to another reviewer", item_id=row.item_id)
    if row.submitted_at is not None:
        raise InvalidRequest(f"review {review_id} was already submitted",
                             code=ErrorCode.CONFLICT)
    _authorize_quality(archive, user, str(row.item_id))
    result = scorecards.score(card, answers)
    now = now_utc()
    with archive.vault.write() as tx:
        _seal(archive, tx.conn, row.item_id, review_part(review_id),
              {"answers": answers, "summary": summary})
        tx.conn.execute(qt.reviews.update().where(qt.reviews.c.id == review_id).values(
            score=result.score, failed=result.failed, submitted_at=now))
        if not row.calibration:
            _add_aggregates(tx.conn, str(row.agent), week_of(now), card, result)
            tx.conn.execute(qt.queue.update().where(
                qt.queue.c.item_id == row.item_id, qt.queue.c.source != "calibration")
                .values(status="done"))
        tx.event(actor=user.name, role=user.role.value, action="quality_review_submit",
                 purpose=QUALITY_PURPOSE, item_ids=[row.item_id],
                 detail={"review_id": review_id, "score": result.score,
                         "failed": result.failed})
    return result


def _may_read(archive: Archive, user: User, row: Any) -> None:
    """Quality reads reviews of items it may read (a calibration review of someone
    else only after submitting its own); an agent only its own submitted reviews."""
    if user.role is Role.AGENT:
        if (row.calibration or row.submitted_at is None
                or row.agent not in identifiers_of(archive, user)):
            raise InvalidRequest(f"review {row.id} does not exist", code=ErrorCode.NOT_FOUND)
        record = archive.record(str(row.item_id))
        if QUALITY_PURPOSE not in {t.purpose for t in record.purposes}:
            raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                               "the item no longer carries quality", item_id=row.item_id)
        return
    _authorize_quality(archive, user, str(row.item_id))
    if row.calibration and row.reviewer != user.name:
        with archive.catalog.read() as conn:
            own = conn.execute(sa.select(qt.reviews.c.id).where(
                qt.reviews.c.item_id == row.item_id, qt.reviews.c.reviewer == user.name,
                qt.reviews.c.calibration.is_(True),
                qt.reviews.c.submitted_at.is_not(None))).first()
        if own is None:
            raise AccessDenied(ErrorCode.WRONG_ROLE, "calibration is blind: submit your own "
                               "review of this item first", item_id=row.item_id)


def public_row(row: Any) -> dict[str, Any]:
    return {"id": int(row.id), "item_id": str(row.item_id), "scorecard_id": int(row.scorecard_id),
            "reviewer": str(row.reviewer), "agent": str(row.agent),
            "calibration": bool(row.calibration), "score": row.score, "failed": bool(row.failed),
            "created_at": row.created_at, "submitted_at": row.submitted_at,
            "response": row.response, "responded_at": row.responded_at}


def get(archive: Archive, user: User, review_id: int) -> dict[str, Any]:
    """A review with its answers, summary and comments, for who may read it; audited."""
    with archive.catalog.read() as conn:
        row = _review_row(conn, review_id)
    _may_read(archive, user, row)
    out = public_row(row)
    sealed: dict[str, Any] = {"answers": {}, "summary": ""}
    if row.submitted_at is not None:
        sealed = _unseal(archive, str(row.item_id), review_part(review_id))
    out.update(answers=sealed["answers"], summary=sealed["summary"])
    out["scorecard"] = scorecards.load(archive, int(row.scorecard_id)).public()
    out["comments"] = [comment_dict(c) for c in comments(
        archive, str(row.item_id), review_id=review_id if user.role is Role.AGENT else None)]
    archive.audit.record(actor=user.name, role=user.role.value, action="quality_review_read",
                         purpose=QUALITY_PURPOSE, item_ids=[str(row.item_id)],
                         detail={"review_id": review_id})
    return out


def comment_dict(c: Comment) -> dict[str, Any]:
    return {"id": c.id, "item_id": c.item_id, "review_id": c.review_id, "author": c.author,
            "role": c.role, "at_seconds": c.at_seconds, "created_at": c.created_at,
            "text": c.text}


def add_comment(archive: Archive, user: User, item_id: str, text: str, *,
                at_seconds: float | None = None, review_id: int | None = None) -> Comment:
    """A comment on an item (at a moment of a call, or on the message), sealed."""
    text = text.strip()
    if not text or len(text) > COMMENT_MAX_CHARS:
        raise InvalidRequest(f"item {item_id}: a comment needs 1 to {COMMENT_MAX_CHARS} "
                             "characters")
    if at_seconds is not None and at_seconds < 0:
        raise InvalidRequest(f"item {item_id}: a comment's moment cannot be negative")
    record = archive.record(item_id)
    if user.role is Role.AGENT:
        if review_id is None:
            raise InvalidRequest("an agent comments on one of its reviews")
        with archive.catalog.read() as conn:
            _may_read(archive, user, _review_row(conn, review_id))
    else:
        _authorize_quality(archive, user, item_id)
    if at_seconds is not None and record.channel is not Channel.CALL:
        raise InvalidRequest(f"item {item_id} is an e-mail: a comment sits on the message, "
                             "not at a moment")
    if at_seconds is not None and record.ended_at is not None:
        length = (record.ended_at - record.started_at).total_seconds()
        if length > 0 and at_seconds > length + 1:
            raise InvalidRequest(f"item {item_id}: {at_seconds:.1f} s is past the end of the "
                                 f"call ({length:.0f} s)")
    now = now_utc()
    with archive.vault.write() as tx:
        if review_id is not None:
            owner = _review_row(tx.conn, review_id)
            if owner.item_id != item_id:
                raise InvalidRequest(f"review {review_id} is not a review of item {item_id}")
        result = tx.conn.execute(qt.comments.insert().values(
            item_id=item_id, review_id=review_id, author=user.name, role=user.role.value,
            at_seconds=at_seconds, created_at=now))
        comment_id = cat.inserted_id(result)
        _seal(archive, tx.conn, item_id, comment_part(comment_id), {"text": text})
        tx.event(actor=user.name, role=user.role.value, action="quality_comment",
                 purpose=QUALITY_PURPOSE, item_ids=[item_id],
                 detail={"comment_id": comment_id, "review_id": review_id})
    return Comment(comment_id, item_id, review_id, user.name, user.role.value, at_seconds, now,
                   text)


def comments(archive: Archive, item_id: str, *, review_id: int | None = None) -> list[Comment]:
    """An item's comments in time order (callers authorised the reader); unsealed."""
    stmt = sa.select(qt.comments).where(qt.comments.c.item_id == item_id)
    if review_id is not None:
        stmt = stmt.where(qt.comments.c.review_id == review_id)
    with archive.catalog.read() as conn:
        rows = conn.execute(stmt.order_by(qt.comments.c.id)).all()
    return [Comment(int(r.id), str(r.item_id), r.review_id, str(r.author), str(r.role),
                    r.at_seconds, r.created_at,
                    str(_unseal(archive, item_id, comment_part(int(r.id)))["text"]))
            for r in rows]


def item_comments(archive: Archive, user: User, item_id: str) -> list[dict[str, Any]]:
    """All comments on an item, for the quality role; audited."""
    _authorize_quality(archive, user, item_id)
    found = [comment_dict(c) for c in comments(archive, item_id)]
    archive.audit.record(actor=user.name, role=user.role.value, action="quality_comments_read",
                         purpose=QUALITY_PURPOSE, item_ids=[item_id])
    return found


def respond(archive: Archive, user: User, review_id: int, response: str, text: str) -> None:
    """The agent acknowledges or disputes one of its reviews, with a comment."""
    if response not in (Response.ACKNOWLEDGED, Response.DISPUTED):
        raise InvalidRequest(f"review {review_id}: response must be acknowledged or disputed")
    with archive.catalog.read() as conn:
        row = _review_row(conn, review_id)
    if user.role is not Role.AGENT:
        raise AccessDenied(ErrorCode.WRONG_ROLE, "only the agent answers its review")
    _may_read(archive, user, row)
    if text.strip():
        add_comment(archive, user, str(row.item_id), text, review_id=review_id)
    with archive.vault.write() as tx:
        tx.conn.execute(qt.reviews.update().where(qt.reviews.c.id == review_id).values(
            response=response, responded_at=now_utc()))
        tx.event(actor=user.name, role=user.role.value, action=f"quality_review_{response}",
                 item_ids=[str(row.item_id)], detail={"review_id": review_id})


def listing(archive: Archive, user: User, *, item_id: str | None = None,
            limit: int = 200) -> list[dict[str, Any]]:
    """Reviews the user may list: quality, those on items still carrying ``quality``
    (never others' blind calibration reviews); an agent, its own submitted ones."""
    r = qt.reviews
    carrying = sa.select(cat.purpose_tags.c.item_id).where(
        cat.purpose_tags.c.purpose == QUALITY_PURPOSE, cat.purpose_tags.c.item_id == r.c.item_id)
    stmt = sa.select(r).where(sa.exists(carrying))
    if item_id is not None:
        stmt = stmt.where(r.c.item_id == item_id)
    if user.role is Role.AGENT:
        stmt = stmt.where(r.c.agent.in_(sorted(identifiers_of(archive, user))),
                          r.c.calibration.is_(False), r.c.submitted_at.is_not(None))
    elif user.role is Role.QUALITY:
        stmt = stmt.where(sa.or_(r.c.calibration.is_(False), r.c.reviewer == user.name))
    else:
        raise AccessDenied(ErrorCode.WRONG_ROLE, f"role {user.role.value} may not list reviews")
    with archive.catalog.read() as conn:
        rows = conn.execute(stmt.order_by(r.c.id.desc()).limit(limit)).all()
    archive.audit.record(actor=user.name, role=user.role.value, action="quality_reviews_list",
                         purpose=QUALITY_PURPOSE, item_ids=sorted({str(r.item_id) for r in rows}))
    return [public_row(row) for row in rows]
