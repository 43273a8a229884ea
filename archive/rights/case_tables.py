"""The catalog tables of the privacy office's request cases (``archive.rights.cases``).

On the shared ``archive.catalog.metadata``, made by migration ``cases_1``. What a
case says in free text (the requester's name, notes, reasons, the third parties
to redact, the reply) may name people, so it is sealed (``Vault.seal_record``)
in the ``sealed`` columns. The identifiers stay readable, as in the catalog's
``subjects`` table and the audit log's ``subject``: the lookup runs on them, and
they prove afterwards which request was answered (Art. 5(2) accountability).
"""

from __future__ import annotations

import sqlalchemy as sa

from archive.catalog import UTCDateTime, metadata

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("outcome", sa.String(20)),
    #: JSON list of the person's identifiers, normalised.
    sa.Column("identifiers", sa.Text, nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("original_due_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False, index=True),
    sa.Column("opened_by", sa.String(200), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("verified_by", sa.String(200)),
    sa.Column("verified_at", UTCDateTime),
    sa.Column("verification_method", sa.String(30)),
    sa.Column("extended_by", sa.String(200)),
    sa.Column("extended_at", UTCDateTime),
    sa.Column("looked_up_at", UTCDateTime),
    sa.Column("replied_by", sa.String(200)),
    sa.Column("replied_at", UTCDateTime),
    sa.Column("closed_by", sa.String(200)),
    sa.Column("closed_at", UTCDateTime),
    #: When the closed case was stripped to its facts (``archive.rights.case_retention``).
    sa.Column("expired_at", UTCDateTime),
    #: How many items the lookup had reviewed, kept when the item list goes at expiry.
    sa.Column("items_reviewed", sa.Integer),
    #: Sealed JSON: requester, notes, verification note, extension reason, reply, close note.
    sa.Column("sealed", sa.LargeBinary, nullable=False),
)

case_items = sa.Table(
    "case_items",
    metadata,
    sa.Column("case_id", sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    # No foreign key: the review outlives an item erased for the same case.
    sa.Column("item_id", sa.String(40), primary_key=True),
    sa.Column("match", sa.String(40), nullable=False),
    sa.Column("decision", sa.String(20)),
    sa.Column("reviewed_by", sa.String(200)),
    sa.Column("reviewed_at", UTCDateTime),
    #: Sealed JSON: the reason and the third parties' names or addresses to redact.
    sa.Column("sealed", sa.LargeBinary),
)

case_events = sa.Table(
    "case_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("step", sa.String(30), nullable=False),
    sa.Column("action", sa.String(40)),
    sa.Column("audit_seq", sa.Integer),
    #: JSON of counts and references only (no personal data).
    sa.Column("detail", sa.Text, nullable=False),
)
