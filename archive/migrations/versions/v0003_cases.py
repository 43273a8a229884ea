"""The privacy office's request cases: ``cases``, ``case_items``, ``case_events``.

Revision ID: cases_1
Revises: 0002_item_language
Create Date: 2026-12-01 04:40:00

New tables only (``archive.rights.case_tables``); the older ``requests`` register
stays as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "cases_1"
down_revision: str | None = "0002_item_language"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20)),
        sa.Column("identifiers", sa.Text, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("original_due_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("verified_by", sa.String(200)),
        sa.Column("verified_at", sa.DateTime()),
        sa.Column("verification_method", sa.String(30)),
        sa.Column("extended_by", sa.String(200)),
        sa.Column("extended_at", sa.DateTime()),
        sa.Column("looked_up_at", sa.DateTime()),
        sa.Column("replied_by", sa.String(200)),
        sa.Column("replied_at", sa.DateTime()),
        sa.Column("closed_by", sa.String(200)),
        sa.Column("closed_at", sa.DateTime()),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_index("ix_cases_due_at", "cases", ["due_at"])
    op.create_table(
        "case_items",
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("item_id", sa.String(40), primary_key=True),
        sa.Column("match", sa.String(40), nullable=False),
        sa.Column("decision", sa.String(20)),
        sa.Column("reviewed_by", sa.String(200)),
        sa.Column("reviewed_at", sa.DateTime()),
        sa.Column("sealed", sa.LargeBinary),
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("step", sa.String(30), nullable=False),
        sa.Column("action", sa.String(40)),
        sa.Column("audit_seq", sa.Integer),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])


def downgrade() -> None:
    op.drop_table("case_events")
    op.drop_table("case_items")
    op.drop_table("cases")
