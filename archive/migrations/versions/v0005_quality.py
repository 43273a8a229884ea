"""The quality workspace's tables (``archive.quality_tables``).

Revision ID: quality_1
Revises: trainingsets_1
Create Date: 2026-12-01 04:30:00

New tables only: scorecards (versioned), reviews and comments (rows cascade
with their item; the texts are sealed parts of the item), the review queue,
monitoring policies, the agent role's links to internal identifiers, and the
statistics that survive erasure (aggregates and plans, with no item ids).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "quality_1"
down_revision: str | None = "trainingsets_1"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = (
    "quality_comments",
    "quality_reviews",
    "quality_queue",
    "quality_scorecards",
    "quality_policies",
    "quality_plans",
    "quality_aggregates",
    "quality_agent_links",
)


def upgrade() -> None:
    op.create_table(
        "quality_agent_links",
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("identifier", sa.String(length=600), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("user_name", "identifier"),
    )
    op.create_table(
        "quality_aggregates",
        sa.Column("agent", sa.String(length=600), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("scorecard", sa.String(length=200), nullable=False),
        sa.Column("criterion", sa.String(length=200), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("score_sum", sa.Float(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent", "week", "scorecard", "criterion"),
    )
    op.create_table(
        "quality_plans",
        sa.Column("agent", sa.String(length=600), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent", "week"),
    )
    op.create_table(
        "quality_policies",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "quality_scorecards",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "version", name="uq_quality_scorecards_name_version"),
    )
    op.create_table(
        "quality_queue",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("policy", sa.String(length=200), nullable=False),
        sa.Column("agent", sa.String(length=600), nullable=False),
        sa.Column("hits", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "source", "policy", name="uq_quality_queue_entry"),
    )
    op.create_index(op.f("ix_quality_queue_item_id"), "quality_queue", ["item_id"], unique=False)
    op.create_index(op.f("ix_quality_queue_status"), "quality_queue", ["status"], unique=False)
    op.create_table(
        "quality_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("scorecard_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("agent", sa.String(length=600), nullable=False),
        sa.Column("calibration", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("response", sa.String(length=16), nullable=True),
        sa.Column("responded_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["scorecard_id"],
            ["quality_scorecards.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "item_id", "reviewer", "calibration", name="uq_quality_reviews_item_reviewer"
        ),
    )
    op.create_index(op.f("ix_quality_reviews_agent"), "quality_reviews", ["agent"], unique=False)
    op.create_index(
        op.f("ix_quality_reviews_item_id"), "quality_reviews", ["item_id"], unique=False
    )
    op.create_table(
        "quality_comments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("at_seconds", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["review_id"], ["quality_reviews.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_quality_comments_item_id"), "quality_comments", ["item_id"], unique=False
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
