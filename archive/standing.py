"""Standing requests about a data subject, applied to items archived later.

A legal hold on a subject, a subject's restriction request (Art. 18) and an
objection or consent withdrawal (Art. 21, 7(3)) cover every item where that
subject is a party, including items that arrive after the hold or the
request: intake applies them inside the transaction that commits a new item
(or merges a re-delivery's new parties), and a sweep or erasure brings
subject holds up to date before it decides. This module is the one place
where that rule is written; it works on the catalog only (intake destroys
the objected purposes' keys).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import catalog as cat
from archive.audit import SYSTEM_ACTOR
from archive.config import ArchiveConfig, Role
from archive.model import HoldScope

#: How the reason of intake's own restriction of unparsed mail starts: a safety
#: measure until someone has looked, not a data subject's Art. 18 request.
UNPARSED_REASON: Final = "unparsed: "


def unparsed_reason(detail: str | None) -> str:
    return UNPARSED_REASON + (detail or "unknown")


def restricted_by_request(conn: Connection, item_ids: Iterable[str]) -> set[str]:
    """Items under an active Art. 18 restriction (intake's own restriction of unparsed
    mail does not count): stored, but not processed, and so not swept."""
    ids = sorted(set(item_ids))
    if not ids:
        return set()
    return {str(r[0]) for r in conn.execute(
        sa.select(cat.restrictions.c.item_id).distinct().where(
            cat.restrictions.c.item_id.in_(ids), cat.restrictions.c.lifted_at.is_(None),
            ~cat.restrictions.c.reason.startswith(UNPARSED_REASON, autoescape=True)))}


def hold_purposes(config: ArchiveConfig) -> frozenset[str]:
    """A hold by subject or search covers only items the legal role may see: items
    carrying one of its purposes (never, say, quality-only items)."""
    return config.purposes_for_role(Role.LEGAL)


def legal_visible(conn: Connection, item_ids: Iterable[str], config: ArchiveConfig) -> set[str]:
    """Those of ``item_ids`` that carry a purpose the legal role holds."""
    ids = sorted(set(item_ids))
    if not ids:
        return set()
    return {str(r[0]) for r in conn.execute(
        sa.select(cat.purpose_tags.c.item_id).distinct().where(
            cat.purpose_tags.c.item_id.in_(ids),
            cat.purpose_tags.c.purpose.in_(sorted(hold_purposes(config)))))}


def hold_by_subject(
    conn: Connection, subjects: Mapping[str, Iterable[str]], config: ArchiveConfig
) -> set[str]:
    """Put items (id -> their subject identifiers) that the legal role may see under
    every active legal hold on one of their subjects; returns the ids such a hold covers."""
    identifiers = sorted({s for ids in subjects.values() for s in ids})
    if not identifiers:
        return set()
    by_subject: dict[str, list[int]] = {}
    for hold_id, target in conn.execute(
        sa.select(cat.holds.c.id, cat.holds.c.target).where(
            cat.holds.c.scope == HoldScope.SUBJECT.value, cat.holds.c.lifted_at.is_(None),
            cat.holds.c.target.in_(identifiers))):
        by_subject.setdefault(str(target), []).append(int(hold_id))
    wanted = {(h, item_id) for item_id, ids in subjects.items()
              for s in ids for h in by_subject.get(s, ())}
    visible = legal_visible(conn, {i for _, i in wanted}, config)
    wanted = {(h, i) for h, i in wanted if i in visible}
    if not wanted:
        return set()
    have = {(int(h), str(i)) for h, i in conn.execute(
        sa.select(cat.hold_items.c.hold_id, cat.hold_items.c.item_id)
        .where(cat.hold_items.c.item_id.in_(sorted({i for _, i in wanted}))))}
    rows = [{"hold_id": h, "item_id": i} for h, i in sorted(wanted - have)]
    if rows:
        conn.execute(cat.hold_items.insert(), rows)
    return {i for _, i in wanted}


def refresh_subject_holds(conn: Connection, config: ArchiveConfig) -> int:
    """Bring subject-scoped holds up to date with items archived since they were placed
    (a safety net: intake already applies them); returns how many items were added."""
    visible = (sa.select(cat.purpose_tags.c.item_id)
               .where(cat.purpose_tags.c.purpose.in_(sorted(hold_purposes(config)))))
    active = conn.execute(
        sa.select(cat.holds.c.id, cat.holds.c.target)
        .where(cat.holds.c.scope == HoldScope.SUBJECT.value, cat.holds.c.lifted_at.is_(None))
    ).all()
    added = 0
    for hold_id, subject in active:
        have = sa.select(cat.hold_items.c.item_id).where(cat.hold_items.c.hold_id == hold_id)
        fresh = conn.execute(
            sa.select(cat.subjects.c.item_id).distinct()
            .where(cat.subjects.c.identifier == subject, cat.subjects.c.item_id.not_in(have),
                   cat.subjects.c.item_id.in_(visible))
        ).all()
        if fresh:
            conn.execute(cat.hold_items.insert(),
                         [{"hold_id": hold_id, "item_id": r[0]} for r in fresh])
            added += len(fresh)
    return added


def restrict_by_subject(
    conn: Connection, subjects: Mapping[str, Iterable[str]], now: datetime
) -> set[str]:
    """Restrict items (id -> their subject identifiers) of subjects who asked for
    restriction (Art. 18); returns the ids of the items such a request covers."""
    identifiers = sorted({s for ids in subjects.values() for s in ids})
    if not identifiers:
        return set()
    reasons: dict[str, str] = {}
    for ident, reason in conn.execute(
        sa.select(cat.subject_restrictions.c.identifier, cat.subject_restrictions.c.reason)
        .where(cat.subject_restrictions.c.identifier.in_(identifiers),
               cat.subject_restrictions.c.lifted_at.is_(None))
        .order_by(cat.subject_restrictions.c.id)):
        reasons.setdefault(str(ident), str(reason))
    wanted: dict[str, str] = {}
    for item_id, ids in subjects.items():
        asked = [reasons[s] for s in ids if s in reasons]
        if asked:
            wanted[item_id] = asked[0]
    if not wanted:
        return set()
    have = {(str(i), str(r)) for i, r in conn.execute(
        sa.select(cat.restrictions.c.item_id, cat.restrictions.c.reason).where(
            cat.restrictions.c.item_id.in_(sorted(wanted)),
            cat.restrictions.c.lifted_at.is_(None)))}
    rows = [{"item_id": i, "reason": r, "created_by": SYSTEM_ACTOR, "created_at": now}
            for i, r in sorted(wanted.items()) if (i, r) not in have]
    if rows:
        conn.execute(cat.restrictions.insert(), rows)
    conn.execute(cat.items.update().where(cat.items.c.id.in_(sorted(wanted)))
                 .values(restricted=True))
    return set(wanted)


def record_objection(
    conn: Connection, identifiers: Sequence[str], purposes: Sequence[str], *,
    withdrawal: bool, actor: str, now: datetime, request_id: int | None = None,
) -> None:
    """Remember that these identifiers' subject objected to (or withdrew consent for)
    ``purposes``, so that intake never gives their later items those purposes."""
    if not identifiers or not purposes:
        return
    conn.execute(cat.subject_objections.insert(), [
        {"identifier": ident, "purposes": json.dumps(sorted(purposes)),
         "withdrawal": withdrawal, "request_id": request_id, "created_by": actor,
         "created_at": now} for ident in dict.fromkeys(identifiers)])


def objected_purposes(
    conn: Connection, subjects: Mapping[str, Iterable[str]]
) -> dict[str, set[str]]:
    """For items (id -> their subject identifiers), the purposes one of their subjects
    objected to or withdrew consent for; items without such a subject are absent."""
    identifiers = sorted({s for ids in subjects.values() for s in ids})
    if not identifiers:
        return {}
    by_subject: dict[str, set[str]] = {}
    for ident, purposes in conn.execute(
        sa.select(cat.subject_objections.c.identifier, cat.subject_objections.c.purposes)
        .where(cat.subject_objections.c.identifier.in_(identifiers))):
        by_subject.setdefault(str(ident), set()).update(json.loads(purposes))
    out: dict[str, set[str]] = {}
    for item_id, ids in subjects.items():
        objected = set().union(*(by_subject.get(s, set()) for s in ids))
        if objected:
            out[item_id] = objected
    return out
