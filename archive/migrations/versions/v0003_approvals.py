"""Two-person control: the ``approvals`` table (``archive.approvals.tables``).

Revision ID: approvals_1
Revises: 0002_item_language
Create Date: 2026-12-01 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "approvals_1"
down_revision: str | None = "0002_item_language"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("required_role", sa.String(20), nullable=False),
        sa.Column("dry_run", sa.Text, nullable=False),
        sa.Column("case_id", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("proposed_by", sa.String(200), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", sa.DateTime()),
        sa.Column("note", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("drift", sa.Text),
    )
    op.create_index("ix_approvals_action", "approvals", ["action"])
    op.create_index("ix_approvals_case_id", "approvals", ["case_id"])
    op.create_index("ix_approvals_status", "approvals", ["status"])


def downgrade() -> None:
    op.drop_table("approvals")
