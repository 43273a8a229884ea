"""What every node sharing one catalog must agree on, recorded in that catalog.

Nodes read their settings from their own environment and their own mounted
``archive.toml``; if one node ran with other purposes, retention or buckets,
it would tag, keep or purge differently from the rest without anyone noticing.
So each node compares digests of the settings that must be the same everywhere
with the ones the catalog recorded and refuses to start on a difference; the
first node records them, and one node started with ``adopt`` makes its own the
cluster's (a deliberate change, rolled out to every node).

Only digests are stored (SHA-256 of each value), so the table says whether two
nodes agree and never what a setting is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime

import sqlalchemy as sa

from archive.catalog import Catalog, UTCDateTime, metadata

shared_settings = sa.Table(
    "shared_settings",
    metadata,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("set_by", sa.String(200), nullable=False),
    sa.Column("set_at", UTCDateTime, nullable=False),
)


def digest(value: object) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()


def agree(catalog: Catalog, digests: Mapping[str, str], *, node: str,
          adopt: bool = False) -> list[str]:
    """Names whose digest differs from the recorded one (sorted); records what is new.

    With ``adopt``, this node's digests replace the recorded ones and nothing differs.
    A setting the catalog has no digest for yet (first start, or a setting added by an
    upgrade) is recorded; one this node does not know (an older node) is left alone.
    """
    now = datetime.now(UTC)
    with catalog.write() as conn:
        recorded = {r.name: r.digest for r in conn.execute(sa.select(shared_settings))}
        differ = sorted(n for n, d in digests.items() if n in recorded and recorded[n] != d)
        if adopt and differ:
            conn.execute(shared_settings.delete().where(shared_settings.c.name.in_(differ)))
            recorded = {n: d for n, d in recorded.items() if n not in differ}
            differ = []
        new = [{"name": n, "digest": d, "set_by": node, "set_at": now}
               for n, d in digests.items() if n not in recorded]
        if new:
            conn.execute(shared_settings.insert(), new)
    return differ
