"""Monitoring backfills as stored requests: the ``quality_backfills`` table
(``archive.quality.backfill_tables``).

Revision ID: backfilljob_1
Revises: caseretention_1
Create Date: 2026-12-01 08:30:00

A backfill ran inside one HTTP request and died with it. Now it is a row that a
``backfill_monitor`` job works through in batches, recording its progress after
each, so a retry resumes where the last batch ended. A new table: nothing to move.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "backfilljob_1"
down_revision: str | None = "caseretention_1"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "quality_backfills",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_role", sa.String(20), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("since", sa.DateTime()),
        sa.Column("until", sa.DateTime()),
        sa.Column("policies", sa.Text, nullable=False),
        sa.Column("all_enabled", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("items_total", sa.Integer),
        sa.Column("items_done", sa.Integer, nullable=False),
        sa.Column("items_failed", sa.Integer, nullable=False),
        sa.Column("queued", sa.Integer, nullable=False),
        sa.Column("cursor", sa.String(40)),
        sa.Column("started_at", sa.DateTime()),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_quality_backfills_requested_at", "quality_backfills",
                    ["requested_at"])


def downgrade() -> None:
    op.drop_table("quality_backfills")
