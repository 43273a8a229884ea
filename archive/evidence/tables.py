"""Disclosures to authorities recorded against a legal hold (migration ``v0003_approvals``).

Each row is one disclosure of some of a hold's items; the per-item rows are in
the catalog's ``disclosures`` table as for any disclosure (so the subject's access
export names the recipient), this table ties them to the hold they were made under.
"""

from __future__ import annotations

import sqlalchemy as sa

from archive.catalog import UTCDateTime, metadata

hold_disclosures = sa.Table(
    "hold_disclosures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("hold_id", sa.Integer, nullable=False, index=True),
    sa.Column("recipient", sa.String(300), nullable=False),
    sa.Column("legal_basis", sa.Text, nullable=False),
    sa.Column("reference", sa.String(300)),
    sa.Column("disclosed_at", UTCDateTime, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("item_ids", sa.Text, nullable=False),
    sa.Column("audit_seq", sa.Integer, nullable=False),
)
