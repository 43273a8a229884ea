"""Training sets (``archive.training``): the sets, and which items each holds.

Revision ID: trainingsets_1
Revises: cases_1
Create Date: 2026-12-01 04:30:00

Two new tables, nothing existing changes; the pseudonym secret of a set is kept
wrapped under a purpose key, like an item's data key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "trainingsets_1"
down_revision: str | None = "cases_1"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "training_sets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("purpose_text", sa.Text(), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("surrogates", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("exported_at", sa.DateTime(), nullable=True),
        sa.Column("exported_by", sa.String(length=200), nullable=True),
        sa.Column("excluded", sa.Text(), nullable=False),
        sa.Column("key_purpose", sa.String(length=64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("key_blob", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_training_sets_expires_at", "training_sets", ["expires_at"],
                    unique=False)
    op.create_table(
        "training_set_items",
        sa.Column("set_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("pseudo_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("gone_at", sa.DateTime(), nullable=True),
        sa.Column("gone_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["set_id"], ["training_sets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("set_id", "item_id"),
    )
    op.create_index("ix_training_set_items_item", "training_set_items", ["item_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_training_set_items_item", table_name="training_set_items")
    op.drop_table("training_set_items")
    op.drop_index("ix_training_sets_expires_at", table_name="training_sets")
    op.drop_table("training_sets")
