"""Closed request cases expire: ``cases.expired_at`` and ``cases.items_reviewed``.

Revision ID: caseretention_1
Revises: ledger_1
Create Date: 2026-12-01 07:50:00

A closed case kept the person's identifiers and notes for ever. The retention
sweep now strips it to its facts after ``[privacy_office]
closed_case_retention_days`` (``archive.rights.case_retention``), noting when
and how many items its lookup had reviewed. Nullable columns: every existing
case reads as not expired, and the next sweep expires those past their time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "caseretention_1"
down_revision: str | None = "ledger_1"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("expired_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("items_reviewed", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("items_reviewed")
        batch.drop_column("expired_at")
