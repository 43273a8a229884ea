"""Stateless nodes: browser sessions in the catalog (``archive.sessions``).

Revision ID: scaleout_1
Revises: 0002_item_language
Create Date: 2026-12-01 04:30:00

Sessions lived in each node's memory; a node behind a load balancer refused
the cookie another node had issued. New table only, so existing archives
upgrade in place with nothing to copy (open sessions ended with the upgrade's
restart anyway).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "scaleout_1"
down_revision: str | None = "0002_item_language"
branch_labels: str | None = None
depends_on: str | None = None

def upgrade() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_browser_sessions_expires_at", "browser_sessions", ["expires_at"])

def downgrade() -> None:
    op.drop_index("ix_browser_sessions_expires_at", table_name="browser_sessions")
    op.drop_table("browser_sessions")
