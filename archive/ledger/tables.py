"""The catalog's bookmark in the erasure ledger: the newest entry it has applied.

One row, moved in the same transaction as the erasure it records (and by a
replay), so it always says how far this catalog's state has followed the
ledger. The ledger itself never lives here: a catalog restored from an older
dump comes back with an older bookmark, which is how opening the archive
(``serve``, ``worker``, the CLI) knows it is behind the ledger and refuses
until ``commarchive ledger replay`` ran. It
is also the S3 ledger's cheap head: every node reads one row instead of
listing the bucket on every audited write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive.catalog import UTCDateTime, metadata

APPLIED: Final = "applied"

ledger_state = sa.Table(
    "erasure_ledger_state",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("mac", sa.String(64), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


def applied(conn: Connection) -> tuple[int, str] | None:
    """(number, MAC) of the newest ledger entry this catalog applied; None: none yet."""
    row = conn.execute(sa.select(ledger_state.c.number, ledger_state.c.mac)
                       .where(ledger_state.c.name == APPLIED)).first()
    return None if row is None else (int(row.number), str(row.mac))


def set_applied(conn: Connection, head: tuple[int, str]) -> None:
    """Move the bookmark forward to ``head``, inside the caller's write transaction.

    Never back: a node that read the ledger's head just before another node's
    erasure committed must not make the catalog look behind that erasure.
    """
    values = {"number": head[0], "mac": head[1], "updated_at": datetime.now(UTC)}
    done = conn.execute(ledger_state.update().where(ledger_state.c.name == APPLIED,
                                                    ledger_state.c.number <= head[0])
                        .values(**values))
    if done.rowcount == 0 and applied(conn) is None:
        conn.execute(ledger_state.insert().values(name=APPLIED, **values))
