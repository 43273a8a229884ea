"""Two-person control and legal's evidence: the ``approvals`` table
(``archive.approvals.tables``) and ``hold_disclosures`` (``archive.evidence.tables``).

Revision ID: approvals_1
Revises: quality_1
Create Date: 2026-12-01 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "approvals_1"
down_revision: str | None = "quality_1"
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
    op.create_table(
        "hold_disclosures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hold_id", sa.Integer, nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("reference", sa.String(300)),
        sa.Column("disclosed_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("item_ids", sa.Text, nullable=False),
        sa.Column("audit_seq", sa.Integer, nullable=False),
    )
    op.create_index("ix_hold_disclosures_hold_id", "hold_disclosures", ["hold_id"])


def downgrade() -> None:
    op.drop_table("hold_disclosures")
    op.drop_table("approvals")
