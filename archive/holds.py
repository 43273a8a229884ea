"""Legal holds: on items, on a data subject, or on a search.

A hold by subject or by search covers only items the legal role may see
(items carrying one of its purposes), later items of the subject included, so
it can neither reveal nor freeze items tagged for quality or training only.
A hold keeps its items from the sweeper, erasure and objection until it is
lifted; placing and lifting are audited with the case reference. Where the
object store supports it (S3 Object Lock) the blobs get a storage-level legal
hold too, so not even a bucket operator can delete them meanwhile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import catalog as cat
from archive.catalog import held_item_ids, inserted_id
from archive.config import Role
from archive.errors import ErrorCode, InvalidRequest, SearchIndexError
from archive.index import SearchQuery, hit_pages
from archive.model import HoldScope, now_utc
from archive.rights.subjects import find_subject
from archive.service import Archive
from archive.standing import hold_purposes, legal_visible

SEARCH_PAGE_ITEMS: Final = 500
MAX_HOLD_ITEMS: Final = 100_000


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    scope: HoldScope
    target: str
    reason: str
    case_ref: str
    created_by: str
    created_at: datetime
    lifted_by: str | None
    lifted_at: datetime | None
    lift_note: str | None
    item_ids: tuple[str, ...]
    #: Blobs that got a storage-level legal hold (0 where the store has none).
    storage_locks: int = 0

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "scope": self.scope.value, "target": self.target,
            "reason": self.reason, "case_ref": self.case_ref, "created_by": self.created_by,
            "created_at": self.created_at.isoformat(), "active": self.active,
            "lifted_by": self.lifted_by,
            "lifted_at": self.lifted_at.isoformat() if self.lifted_at else None,
            "lift_note": self.lift_note, "item_ids": list(self.item_ids),
            "storage_locks": self.storage_locks,
        }


def _search_all(archive: Archive, text: str) -> list[str]:
    """Every item a search matches among those the legal role may see.

    Limited to the legal role's purposes (restricted items included, as legal
    may read those), so a hold by search cannot be used to probe, or to list the
    ids of, items tagged only for quality or training.
    """
    found: dict[str, None] = {}
    query = SearchQuery(text=text, purposes=hold_purposes(archive.config),
                        include_restricted=True)
    try:
        for ids in hit_pages(archive.index, query, SEARCH_PAGE_ITEMS):
            found.update(dict.fromkeys(ids))
            if len(found) > MAX_HOLD_ITEMS:
                break
    except SearchIndexError as exc:
        raise InvalidRequest(f"search for the hold failed: {exc}",
                             code=ErrorCode.UNAVAILABLE) from exc
    return list(found)


def _load(conn: Connection, row: sa.Row[Any], storage_locks: int = 0) -> Hold:
    ids = tuple(str(r[0]) for r in conn.execute(
        sa.select(cat.hold_items.c.item_id).where(cat.hold_items.c.hold_id == row.id)
        .order_by(cat.hold_items.c.item_id)))
    return Hold(int(row.id), HoldScope(row.scope), row.target, row.reason, row.case_ref,
                row.created_by, row.created_at, row.lifted_by, row.lifted_at, row.lift_note,
                ids, storage_locks)


@dataclass(frozen=True, slots=True)
class HoldTarget:
    """What a hold would cover: its scope, target and the items it finds now."""

    scope: HoldScope
    target: str
    item_ids: list[str]
    subject: str | None = None


def hold_scope(archive: Archive, *, item_ids: list[str] | None = None,
               subject: str | None = None, query: str | None = None) -> HoldTarget:
    """The items a hold on items, a subject or a search would cover (the preview legal
    sees before placing it, and what ``place_hold`` places)."""
    if sum(x is not None and x != [] for x in (item_ids, subject, query)) != 1:
        raise InvalidRequest("a hold needs exactly one of: item ids, a subject, a search")
    if item_ids:
        ids = sorted(set(item_ids))
        with archive.catalog.read() as conn:
            have = {str(r[0]) for r in conn.execute(
                sa.select(cat.items.c.id).where(cat.items.c.id.in_(ids)))}
        missing = [i for i in ids if i not in have]
        if missing:
            raise InvalidRequest(f"no such item(s): {', '.join(missing)}",
                                 code=ErrorCode.NOT_FOUND)
        return HoldTarget(HoldScope.ITEM, json.dumps(ids), ids)
    if subject is not None:
        match = find_subject(archive, subject)
        with archive.catalog.read() as conn:
            visible = legal_visible(conn, match.item_ids, archive.config)
        return HoldTarget(HoldScope.SUBJECT, match.identifier,
                          [i for i in match.item_ids if i in visible], match.identifier)
    assert query is not None
    if not query.strip():
        raise InvalidRequest("a search hold needs a query")
    return HoldTarget(HoldScope.SEARCH, query, _search_all(archive, query))


def place_hold(
    archive: Archive,
    *,
    actor: str,
    reason: str,
    case_ref: str,
    item_ids: list[str] | None = None,
    subject: str | None = None,
    query: str | None = None,
    role: str = Role.LEGAL.value,
    now: datetime | None = None,
) -> Hold:
    """Place a hold on items, on every item of a subject, or on every hit of a search."""
    if sum(x is not None and x != [] for x in (item_ids, subject, query)) != 1:
        raise InvalidRequest("a hold needs exactly one of: item ids, a subject, a search")
    if not reason.strip() or not case_ref.strip():
        raise InvalidRequest("a hold needs a reason and a case reference")
    now = now or now_utc()
    found = hold_scope(archive, item_ids=item_ids, subject=subject, query=query)
    scope, target, ids, norm_subject = found.scope, found.target, found.item_ids, found.subject
    with archive.vault.write() as tx:
        conn = tx.conn
        hold_id = inserted_id(conn.execute(cat.holds.insert().values(
            scope=scope.value, target=target, reason=reason, case_ref=case_ref,
            created_by=actor, created_at=now,
        )))
        live = {str(r[0]) for r in conn.execute(
            sa.select(cat.items.c.id).where(cat.items.c.id.in_(ids)))} if ids else set()
        ids = [i for i in ids if i in live]
        if ids:
            conn.execute(cat.hold_items.insert(),
                         [{"hold_id": hold_id, "item_id": i} for i in ids])
            archive.indexer.mark_dirty(conn, ids)
        keys = [k for ks in archive.vault.blob_keys(conn, ids).values() for k in ks]
        tx.event(
            actor=actor, role=role, action="hold_place", item_ids=ids,
            subject=norm_subject,
            detail={"hold_id": hold_id, "scope": scope.value, "target": target,
                    "reason": reason, "case_ref": case_ref},
        )
    locks = archive.vault.storage_hold(keys, True)
    if ids:
        archive.indexer.index_items(ids)
    with archive.catalog.read() as conn:
        row = conn.execute(sa.select(cat.holds).where(cat.holds.c.id == hold_id)).one()
        return _load(conn, row, locks)


def lift_hold(
    archive: Archive, hold_id: int, *, actor: str, note: str, role: str = Role.LEGAL.value,
    now: datetime | None = None,
) -> Hold:
    """Lift a hold (audited with a note); items no other hold covers become deletable."""
    if not note.strip():
        raise InvalidRequest("lifting a hold needs a note")
    now = now or now_utc()
    with archive.vault.write() as tx:
        conn = tx.conn
        row = conn.execute(sa.select(cat.holds).where(cat.holds.c.id == hold_id)).first()
        if row is None:
            raise InvalidRequest(f"no hold {hold_id}", code=ErrorCode.NOT_FOUND)
        if row.lifted_at is not None:
            raise InvalidRequest(f"hold {hold_id} was already lifted", code=ErrorCode.CONFLICT)
        conn.execute(cat.holds.update().where(cat.holds.c.id == hold_id).values(
            lifted_by=actor, lifted_at=now, lift_note=note))
        ids = [str(r[0]) for r in conn.execute(
            sa.select(cat.hold_items.c.item_id).where(cat.hold_items.c.hold_id == hold_id))]
        still = held_item_ids(conn, ids)
        if ids:
            archive.indexer.mark_dirty(conn, ids)
        freed = [i for i in ids if i not in still]
        keys = [k for ks in archive.vault.blob_keys(conn, freed).values() for k in ks]
        tx.event(
            actor=actor, role=role, action="hold_lift", item_ids=ids,
            subject=row.target if row.scope == HoldScope.SUBJECT.value else None,
            detail={"hold_id": hold_id, "case_ref": row.case_ref, "note": note,
                    "released": len(freed)},
        )
    archive.vault.storage_hold(keys, False)
    if ids:
        archive.indexer.index_items(ids)
    return get_hold(archive, hold_id)


def get_hold(archive: Archive, hold_id: int) -> Hold:
    with archive.catalog.read() as conn:
        row = conn.execute(sa.select(cat.holds).where(cat.holds.c.id == hold_id)).first()
        if row is None:
            raise InvalidRequest(f"no hold {hold_id}", code=ErrorCode.NOT_FOUND)
        return _load(conn, row)


def list_holds(archive: Archive, *, active_only: bool = True) -> list[Hold]:
    stmt = sa.select(cat.holds).order_by(cat.holds.c.id)
    if active_only:
        stmt = stmt.where(cat.holds.c.lifted_at.is_(None))
    with archive.catalog.read() as conn:
        return [_load(conn, r) for r in conn.execute(stmt).all()]
