"""The catalog tables of training sets (``archive.training``), on the shared metadata.

A set row keeps its per-set pseudonym secret only wrapped under the anonymised
purpose's key (like an item's DEK), so deleting the row crypto-shreds the
pseudonyms: nobody can map a handed-out set back, or join two sets. Members
name items by id without a foreign key: a purged item's membership must
outlive the item long enough for the erasure hook to see which sets held it
(removed from a draft, listed when already handed out).

Imported by the migrations' environment, so the metadata the migrations are
compared with always holds these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

from archive.catalog import UTCDateTime, metadata

training_sets = sa.Table(
    "training_sets",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("purpose_text", sa.Text, nullable=False),
    #: The builder's criteria, JSON (channel, language, dates, size, stratify, seed).
    sa.Column("criteria", sa.Text, nullable=False),
    sa.Column("surrogates", sa.Boolean, nullable=False, default=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    #: The earliest end of the anonymised purpose among its items: the set goes then.
    sa.Column("expires_at", UTCDateTime, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # draft | exported
    sa.Column("exported_at", UTCDateTime),
    sa.Column("exported_by", sa.String(200)),
    #: Items picked but left out, JSON: [{"id": pseudonym, "channel", "reason"}].
    sa.Column("excluded", sa.Text, nullable=False),
    sa.Column("key_purpose", sa.String(64), nullable=False),
    sa.Column("key_version", sa.Integer, nullable=False),
    sa.Column("key_blob", sa.LargeBinary, nullable=False),
)

training_set_items = sa.Table(
    "training_set_items",
    metadata,
    sa.Column("set_id", sa.ForeignKey("training_sets.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("item_id", sa.String(40), primary_key=True),
    sa.Column("pseudo_id", sa.String(40), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    #: Set when the item went (erased, purged) after the set was handed out.
    sa.Column("gone_at", UTCDateTime),
    sa.Column("gone_reason", sa.String(40)),
    sa.Index("ix_training_set_items_item", "item_id"),
)


def key_context(set_id: str) -> str:
    """What a set's wrapped secret is bound to (it cannot be moved to another set)."""
    return f"training-set/{set_id}"
