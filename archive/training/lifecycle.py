"""How training sets follow their items: retention ends them, erasure reaches into them.

- A set expires with the anonymised (training) retention of its items: the
  retention sweep deletes it, with its wrapped secret, once its ``expires_at``
  has passed.
- An item that goes (erased, purged, or no longer carrying the set's purpose) is
  removed from every set not yet handed out; a set already exported cannot be
  recalled by the archive, so it is listed instead (in the erasure certificate),
  and the member is marked gone so it is listed once.

Both are hooks on the archive facade (``Archive.outside_sweepers`` and
``outside_erasers``), installed by the composition root with :func:`install`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from archive import catalog as cat
from archive import training_tables as tt
from archive.model import now_utc
from archive.service import Archive
from archive.training.sets import SetStatus

SOURCE: Final = "training sets"
SYSTEM_ROLE: Final = "system"


def gone_members(archive: Archive, now: datetime) -> list[dict[str, Any]]:
    """Members whose item is purged or no longer carries the set's purpose, with why."""
    sets, members = tt.training_sets, tt.training_set_items
    with archive.catalog.read() as conn:
        rows = conn.execute(
            sa.select(members.c.set_id, members.c.item_id, members.c.pseudo_id,
                      sets.c.status, sets.c.title, sets.c.key_purpose, sets.c.exported_at,
                      sets.c.exported_by)
            .join(sets, sets.c.id == members.c.set_id)
            .where(members.c.gone_at.is_(None))).all()
        ids = sorted({str(r.item_id) for r in rows})
        carried = {(str(t.item_id), str(t.purpose)) for t in conn.execute(
            sa.select(cat.purpose_tags.c.item_id, cat.purpose_tags.c.purpose)
            .where(cat.purpose_tags.c.item_id.in_(ids), cat.purpose_tags.c.retain_until > now))}
        tombstones = {str(t.item_id): str(t.reason) for t in conn.execute(
            sa.select(cat.tombstones.c.item_id, cat.tombstones.c.reason)
            .where(cat.tombstones.c.item_id.in_(ids)))}
    gone = []
    for row in rows:
        if (str(row.item_id), row.key_purpose) in carried:
            continue
        reason = tombstones.get(str(row.item_id), f"{row.key_purpose} purpose ended")
        gone.append({**row._asdict(), "reason": reason})
    return gone


def remove_gone(archive: Archive, *, actor: str, now: datetime | None = None,
                ) -> tuple[list[str], list[str]]:
    """Take gone items out of draft sets and mark them in handed-out ones; audited.

    Returns (removed from drafts, still in handed-out sets), as readable lines."""
    now = now or now_utc()
    gone = gone_members(archive, now)
    if not gone:
        return [], []
    removed, handed_out = [], []
    members = tt.training_set_items
    with archive.vault.write() as tx:
        for g in gone:
            where = sa.and_(members.c.set_id == g["set_id"], members.c.item_id == g["item_id"])
            if g["status"] == SetStatus.DRAFT.value:
                tx.conn.execute(members.delete().where(where))
                removed.append(f"{g['set_id']}: item {g['pseudo_id']} removed ({g['reason']})")
            else:
                tx.conn.execute(members.update().where(where)
                                .values(gone_at=now, gone_reason=g["reason"]))
                handed_out.append(
                    f"{g['set_id']} \u201c{g['title']}\u201d, handed out "
                    f"{g['exported_at'].date().isoformat()} to {g['exported_by']}: item "
                    f"{g['pseudo_id']} ({g['reason']}); ask its holders to delete it")
        tx.event(actor=actor, role=SYSTEM_ROLE, action="training_set_items_gone",
                 item_ids=sorted({str(g["item_id"]) for g in gone}),
                 detail={"removed": removed, "handed_out": handed_out})
    return removed, handed_out


def expire_sets(archive: Archive, now: datetime, *, dry_run: bool, actor: str) -> list[str]:
    """Delete the sets whose time is up (with their secrets); audited."""
    sets = tt.training_sets
    with archive.catalog.read() as conn:
        due = [str(r[0]) for r in conn.execute(
            sa.select(sets.c.id).where(sets.c.expires_at <= now).order_by(sets.c.id))]
    if dry_run or not due:
        return due
    with archive.vault.write() as tx:
        items = [str(r[0]) for r in tx.conn.execute(
            sa.select(tt.training_set_items.c.item_id)
            .where(tt.training_set_items.c.set_id.in_(due)))]
        tx.conn.execute(tt.training_set_items.delete()
                        .where(tt.training_set_items.c.set_id.in_(due)))
        tx.conn.execute(sets.delete().where(sets.c.id.in_(due)))
        tx.event(actor=actor, role=SYSTEM_ROLE, action="training_set_expire",
                 item_ids=sorted(set(items)), detail={"sets": due, "now": now.isoformat()})
    return due


def install(archive: Archive) -> None:
    """Hook training sets into every retention sweep and every erasure of this archive."""

    def sweep(now: datetime, dry_run: bool, actor: str) -> dict[str, Any]:
        expired = expire_sets(archive, now, dry_run=dry_run, actor=actor)
        if not dry_run:
            remove_gone(archive, actor=actor, now=now)
        return {"source": SOURCE, "purged": expired}

    def erase(identifiers: Sequence[str], actor: str) -> dict[str, Any]:
        removed, handed_out = remove_gone(archive, actor=actor)
        return {"source": SOURCE, "erased": removed, "unattributed": [],
                "handed_out": handed_out}

    archive.outside_sweepers.append(sweep)
    archive.outside_erasers.append(erase)
