"""The ``quality_backfills`` table: monitoring backfills asked for, and how far each got.

On the shared catalog metadata, in a module of its own (migration
``v0010_backfilljob``). A row names no item and holds no content: who asked,
the range and the policies, the status, counts, and the id of the last item a
batch finished (``cursor``), from which a retry resumes.
"""

from __future__ import annotations

import sqlalchemy as sa

from archive.catalog import UTCDateTime, metadata

backfills = sa.Table(
    "quality_backfills",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("requested_role", sa.String(20), nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False, index=True),
    #: Items started in [since, until); either end open when null.
    sa.Column("since", UTCDateTime),
    sa.Column("until", UTCDateTime),
    #: JSON list of the policy names it runs (resolved when asked).
    sa.Column("policies", sa.Text, nullable=False),
    #: True when none was named: the policies enabled when it was asked.
    sa.Column("all_enabled", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("items_total", sa.Integer),
    sa.Column("items_done", sa.Integer, nullable=False),
    sa.Column("items_failed", sa.Integer, nullable=False),
    sa.Column("queued", sa.Integer, nullable=False),
    sa.Column("cursor", sa.String(40)),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("error", sa.Text),
)
