"""The approvals table: proposals of destructive or widening actions and their outcome.

On the shared catalog metadata, in a module of its own (migration
``v0003_approvals``). A proposal keeps the parameters the action runs with and
the dry run the approver saw, so the outcome can be compared with what was
approved; ``case_id`` links it to a data-subject request (``requests.id``).
"""

from __future__ import annotations

import sqlalchemy as sa

from archive.catalog import UTCDateTime, metadata

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action", sa.String(40), nullable=False, index=True),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("required_role", sa.String(20), nullable=False),
    sa.Column("dry_run", sa.Text, nullable=False),
    sa.Column("case_id", sa.Integer, index=True),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("proposed_by", sa.String(200), nullable=False),
    sa.Column("proposed_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("note", sa.Text),
    sa.Column("result", sa.Text),
    sa.Column("drift", sa.Text),
)
