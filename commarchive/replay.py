"""Replaying the erasure ledger into a catalog, and refusing a catalog that is behind it.

A catalog restored from an older backup or ``pg_dump`` still holds the keys of
every person erased since. ``replay_ledger`` applies every recorded shred and
purge again (items already gone are skipped, so it is idempotent) and moves the
catalog's bookmark (``archive.ledger.tables``) to the ledger's head.
``require_caught_up`` is what every ``open_archive`` asks first: when entries
after the bookmark still have something to destroy in this catalog, the
archive refuses to open, naming ``commarchive ledger replay``; when they have
nothing left to destroy (an archive from before bookmarks, an erasure whose
transaction failed after its entry and was redone) it only moves the bookmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from archive import catalog as cat
from archive.errors import ConfigError
from archive.ledger import LedgerEntry, tables
from archive.service import Archive

REPLAY_COMMAND = "commarchive ledger replay"


@dataclass(frozen=True, slots=True)
class LedgerStatus:
    #: The newest entry the catalog applied (0: none recorded).
    applied: int
    #: The ledger's newest entry, read where it is kept (0: empty).
    head: int
    #: Entries after ``applied`` that would still destroy something in this catalog.
    pending: list[LedgerEntry]

    def public(self) -> dict[str, object]:
        return {"applied": self.applied, "head": self.head,
                "pending": [e.public() for e in self.pending]}


def ledger_status(arc: Archive) -> LedgerStatus:
    """How far the catalog has followed the ledger, and what it has not applied."""
    ledger = arc.vault.ledger
    head = ledger.head(fresh=True)
    with arc.catalog.read() as conn:
        bookmark = tables.applied(conn)
        applied = bookmark[0] if bookmark else 0
        pending = [e for e in ledger.entries(after=applied) if _would_destroy(arc, conn, e)] \
            if head is not None and head[0] > applied else []
    return LedgerStatus(applied, head[0] if head else 0, pending)


def _would_destroy(arc: Archive, conn: sa.Connection, entry: LedgerEntry) -> bool:
    live = sorted(arc.vault.live_item_ids(conn, entry.item_ids))
    if not live or entry.action == "purge":
        return bool(live)
    stmt = sa.select(cat.wrapped_keys.c.item_id).where(cat.wrapped_keys.c.item_id.in_(live))
    if entry.purposes is not None:
        stmt = stmt.where(cat.wrapped_keys.c.purpose.in_(list(entry.purposes)))
    return conn.execute(stmt.limit(1)).first() is not None


def require_caught_up(arc: Archive) -> None:
    """Refuse a catalog the ledger is ahead of (it would bring erased people back)."""
    status = ledger_status(arc)
    if status.pending:
        first = status.pending[0]
        raise ConfigError(
            f"the catalog is behind the erasure ledger ({len(status.pending)} erasure(s) "
            f"after entry {status.applied} not applied, the first of "
            f"{first.at.isoformat()}): it was restored from an older backup; run "
            f"`{REPLAY_COMMAND}` before serving")
    if status.head > status.applied:
        _bookmark_head(arc)


def _bookmark_head(arc: Archive) -> None:
    head = arc.vault.ledger.head(fresh=True)
    if head is not None:
        with arc.catalog.write() as conn:
            tables.set_applied(conn, head)


def replay_ledger(arc: Archive) -> list[LedgerEntry]:
    """Apply every recorded shred and purge again; returns the entries that still had
    something to destroy in this catalog. The bookmark then names the ledger's head."""
    vault = arc.vault
    applied: list[LedgerEntry] = []
    leftovers: list[str] = []
    for entry in list(vault.ledger.entries()):
        with vault.write() as tx:
            live = sorted(vault.live_item_ids(tx.conn, entry.item_ids))
            if not live:
                continue
            if entry.action == "purge":
                blobs = vault.blob_keys(tx.conn, live)
                vault.purge_rows(tx.conn, live, reason=entry.reason or "erasure",
                                 reference=entry.reference, now=entry.at, ledger=False)
                leftovers += [k for i in live for k in blobs.get(i, [])]
                done = True
            else:
                done = any(vault.shred(tx.conn, item_id, purposes=entry.purposes,
                                       ledger=False) for item_id in live)
            if not done:
                continue
            tx.event(actor="system", role="admin", action="erasure_replayed",
                     item_ids=live, detail={"erased_at": entry.at.isoformat(),
                                            "ledger_action": entry.action,
                                            "reason": entry.reason,
                                            "reference": entry.reference})
            applied.append(entry)
    vault.delete_blobs(leftovers)
    _bookmark_head(arc)
    vault.catalog.checkpoint()
    return applied


def replay(arc: Archive, *, actor: str) -> dict[str, object]:
    """``commarchive ledger replay``: catch a restored catalog up with the ledger,
    audited (one ``erasure_replayed`` event per erasure applied, one
    ``ledger_replayed`` for the run); running it again replays nothing."""
    before = ledger_status(arc)
    replayed = [e.public() for e in replay_ledger(arc)]
    after = ledger_status(arc)
    arc.vault.record_event(actor=actor, role="admin", action="ledger_replayed",
                           detail={"applied_before": before.applied, "head": after.head,
                                   "replayed": replayed})
    return {"applied_before": before.applied, "applied": after.applied, "head": after.head,
            "replayed": replayed}
