"""The catalog's bookmark in the erasure ledger (``archive.ledger.tables``).

Revision ID: ledger_1
Revises: scaleout_1
Create Date: 2026-12-01 07:40:00

One row naming the newest ledger entry the catalog applied, moved with each
erasure; a catalog restored from an older dump has an older one, and opening
the archive refuses until ``commarchive ledger replay`` caught it up. A new
table only: an existing archive starts without a bookmark, and its first open
checks the ledger's entries against the catalog once to find out whether it is
behind.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "ledger_1"
down_revision: str | None = "scaleout_1"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "erasure_ledger_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("erasure_ledger_state")
