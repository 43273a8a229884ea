"""The quality workspace's catalog tables (``archive.quality``), on the shared metadata.

Rows here hold state, never content: answers, summaries, comment texts and
hit context are sealed parts of the item (``archive.quality.reviews``). Every
table that names an item has a cascading foreign key to ``items``, so a purge
takes its rows with the item, and reviews, comments and queue entries are bound
to the ``quality`` purpose (``drop_purpose_bound``, which ``Vault.shred`` calls): destroying
an item's quality key (retention, objection, erasure that keeps the item for a
legal obligation) deletes them as well. ``quality_aggregates`` and ``quality_plans``
name no item on purpose: they are what agent statistics keep after erasure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive.catalog import UTCDateTime, metadata, parts

scorecards = sa.Table(
    "quality_scorecards",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # The form itself (sections, criteria, weights): configuration, not personal data.
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.UniqueConstraint("name", "version", name="uq_quality_scorecards_name_version"),
)

reviews = sa.Table(
    "quality_reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("scorecard_id", sa.ForeignKey("quality_scorecards.id"), nullable=False),
    sa.Column("reviewer", sa.String(200), nullable=False),
    # The agent's normalised internal identifier (``archive.quality.agents``), or "".
    sa.Column("agent", sa.String(600), nullable=False, index=True),
    sa.Column("calibration", sa.Boolean, nullable=False, default=False),
    sa.Column("score", sa.Float),
    sa.Column("failed", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("submitted_at", UTCDateTime),
    # acknowledged | disputed, by the agent
    sa.Column("response", sa.String(16)),
    sa.Column("responded_at", UTCDateTime),
    sa.UniqueConstraint("item_id", "reviewer", "calibration",
                        name="uq_quality_reviews_item_reviewer"),
)

comments = sa.Table(
    "quality_comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("review_id", sa.ForeignKey("quality_reviews.id", ondelete="CASCADE")),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    # Seconds into a call; None: on the message (e-mail) or on the review as a whole.
    sa.Column("at_seconds", sa.Float),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

queue = sa.Table(
    "quality_queue",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False,
              index=True),
    # sample | policy | manual | calibration
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("policy", sa.String(200), nullable=False, default=""),
    sa.Column("agent", sa.String(600), nullable=False, default=""),
    # Where the lexicon hit (section, offsets, seconds): positions, never the words around them.
    sa.Column("hits", sa.Text, nullable=False, default="[]"),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("assignee", sa.String(200)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("item_id", "source", "policy", name="uq_quality_queue_entry"),
)

policies = sa.Table(
    "quality_policies",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)

agent_links = sa.Table(
    "quality_agent_links",
    metadata,
    sa.Column("user_name", sa.String(200), primary_key=True),
    sa.Column("identifier", sa.String(600), primary_key=True),
    # The agent's team for statistics (optional).
    sa.Column("team", sa.String(200)),
)

aggregates = sa.Table(
    "quality_aggregates",
    metadata,
    sa.Column("agent", sa.String(600), primary_key=True),
    # The Monday of the ISO week the review was submitted in.
    sa.Column("week", sa.Date, primary_key=True),
    sa.Column("scorecard", sa.String(200), primary_key=True),
    # A criterion's id, or "" for the review's total score.
    sa.Column("criterion", sa.String(200), primary_key=True),
    sa.Column("reviews", sa.Integer, nullable=False, default=0),
    sa.Column("score_sum", sa.Float, nullable=False, default=0.0),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
)

plans = sa.Table(
    "quality_plans",
    metadata,
    sa.Column("agent", sa.String(600), primary_key=True),
    sa.Column("week", sa.Date, primary_key=True),
    sa.Column("planned", sa.Integer, nullable=False),
)

#: Purpose -> tables whose rows of an item exist for that purpose only: shredding the
#: item's key for it deletes them (comments first: they may point at a review).
BOUND_TO_PURPOSE: Final[dict[str, tuple[sa.Table, ...]]] = {
    "quality": (comments, reviews, queue),
}
#: Parts named ``<purpose>@<name>`` are derived data kept for that purpose only
#: (e.g. ``quality@review-7``): shredding the purpose's key deletes them too.
PURPOSE_PART_MARK: Final = "@"


def purpose_part(purpose: str, name: str) -> str:
    """The name of a part that lives only as long as the item carries ``purpose``."""
    return f"{purpose}{PURPOSE_PART_MARK}{name}"


def drop_purpose_bound(conn: Connection, item_id: str, purposes: Iterable[str]) -> None:
    """Inside ``Vault.shred``: delete the item's rows and parts bound to these purposes
    (a purge deletes them with the item anyway, through the cascading keys)."""
    for purpose in purposes:
        for table in BOUND_TO_PURPOSE.get(purpose, ()):
            conn.execute(table.delete().where(table.c.item_id == item_id))
        conn.execute(parts.delete().where(
            parts.c.item_id == item_id,
            parts.c.name.startswith(purpose_part(purpose, ""), autoescape=True)))
