"""Items carry a language (``archive.language``): the column that picks a call's model.

Revision ID: 0002_item_language
Revises: 0001_baseline
Create Date: 2026-12-01 01:50:00

Nullable, so every existing item reads as "language not decided" (its calls are
then routed by comparing models, or marked ``language_unknown``). A catalog made
from the metadata before migrations existed may already have the column, since
that metadata was whatever its release defined: then there is nothing to add.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_item_language"
down_revision: str | None = "0001_baseline"
branch_labels: str | None = None
depends_on: str | None = None


def _has_language() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns("items")
    return any(c["name"] == "language" for c in columns)


def upgrade() -> None:
    if not _has_language():
        op.add_column("items", sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("language")
