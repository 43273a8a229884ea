"""Replaying the erasure ledger into a catalog.

A catalog restored from an older backup still holds the keys of every person
erased since. ``replay_ledger`` applies every recorded shred and purge again
(items already gone are skipped, so it is idempotent) and moves the catalog's
bookmark (``archive.ledger.tables``) to the ledger's head.
"""

from __future__ import annotations

from archive.ledger import LedgerEntry, tables
from archive.service import Archive


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

