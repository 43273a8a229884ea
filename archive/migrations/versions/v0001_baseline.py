"""The catalog as it was before migrations existed: the baseline every archive starts from.

Revision ID: 0001_baseline
Revises: (none)
Create Date: 2026-12-01 01:27:05.639229
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=True),
        sa.Column("item_ids", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=600), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_audit_events_actor", "audit_events", ["actor"], unique=False)
    op.create_index("ix_audit_events_subject", "audit_events", ["subject"], unique=False)
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("case_ref", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.Column("lift_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("transcript_status", sa.String(length=16), nullable=False),
        sa.Column("transcript_reason", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("dedupe_key", sa.String(length=600), nullable=True),
        sa.Column("thread_key", sa.String(length=600), nullable=True),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("index_dirty", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_items_started_at", "items", ["started_at"], unique=False)
    op.create_index("ix_items_thread_key", "items", ["thread_key"], unique=False)
    op.create_index("ix_items_transcript_status", "items", ["transcript_status"], unique=False)
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=600), nullable=False),
        sa.Column("requested_by", sa.String(length=300), nullable=False),
        sa.Column("verified_by", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_requests_subject", "requests", ["subject"], unique=False)
    op.create_table(
        "subject_objections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("identifier", sa.String(length=600), nullable=False),
        sa.Column("purposes", sa.Text(), nullable=False),
        sa.Column("withdrawal", sa.Boolean(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_subject_objections_identifier", "subject_objections", ["identifier"], unique=False
    )
    op.create_table(
        "subject_restrictions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("identifier", sa.String(length=600), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_subject_restrictions_identifier", "subject_restrictions", ["identifier"], unique=False
    )
    op.create_table(
        "tombstones",
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.Column("purged_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("dedupe_mark", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index("ix_tombstones_dedupe_mark", "tombstones", ["dedupe_mark"], unique=False)
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("part", sa.String(length=100), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_annotations_item", "annotations", ["item_id"], unique=False)
    op.create_table(
        "disclosures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=300), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("disclosed_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_disclosures_item", "disclosures", ["item_id"], unique=False)
    op.create_table(
        "hold_items",
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["hold_id"], ["holds.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("hold_id", "item_id"),
    )
    op.create_index("ix_hold_items_item", "hold_items", ["item_id"], unique=False)
    op.create_table(
        "parties",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=600), nullable=False),
        sa.Column("name", sa.String(length=600), nullable=True),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("channel_index", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_parties_item", "parties", ["item_id"], unique=False)
    op.create_table(
        "parts",
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("blob_key", sa.String(length=300), nullable=True),
        sa.Column("inline", sa.LargeBinary(), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("plain_size", sa.BigInteger(), nullable=False),
        sa.Column("sealed_size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", "name"),
    )
    op.create_table(
        "purpose_tags",
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("retain_until", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", "purpose"),
    )
    op.create_index("ix_purpose_tags_retain_until", "purpose_tags", ["retain_until"], unique=False)
    op.create_table(
        "restrictions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.Column("lift_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_restrictions_item", "restrictions", ["item_id"], unique=False)
    op.create_table(
        "subjects",
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("identifier", sa.String(length=600), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", "identifier"),
    )
    op.create_index("ix_subjects_identifier", "subjects", ["identifier"], unique=False)
    op.create_table(
        "wrapped_keys",
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", "purpose"),
    )


def downgrade() -> None:
    op.drop_table("wrapped_keys")
    op.drop_index("ix_subjects_identifier", table_name="subjects")
    op.drop_table("subjects")
    op.drop_index("ix_restrictions_item", table_name="restrictions")
    op.drop_table("restrictions")
    op.drop_index("ix_purpose_tags_retain_until", table_name="purpose_tags")
    op.drop_table("purpose_tags")
    op.drop_table("parts")
    op.drop_index("ix_parties_item", table_name="parties")
    op.drop_table("parties")
    op.drop_index("ix_hold_items_item", table_name="hold_items")
    op.drop_table("hold_items")
    op.drop_index("ix_disclosures_item", table_name="disclosures")
    op.drop_table("disclosures")
    op.drop_index("ix_annotations_item", table_name="annotations")
    op.drop_table("annotations")
    op.drop_table("users")
    op.drop_index("ix_tombstones_dedupe_mark", table_name="tombstones")
    op.drop_table("tombstones")
    op.drop_index("ix_subject_restrictions_identifier", table_name="subject_restrictions")
    op.drop_table("subject_restrictions")
    op.drop_index("ix_subject_objections_identifier", table_name="subject_objections")
    op.drop_table("subject_objections")
    op.drop_index("ix_requests_subject", table_name="requests")
    op.drop_table("requests")
    op.drop_index("ix_items_transcript_status", table_name="items")
    op.drop_index("ix_items_thread_key", table_name="items")
    op.drop_index("ix_items_started_at", table_name="items")
    op.drop_table("items")
    op.drop_table("holds")
    op.drop_index("ix_audit_events_subject", table_name="audit_events")
    op.drop_index("ix_audit_events_actor", table_name="audit_events")
    op.drop_table("audit_events")
