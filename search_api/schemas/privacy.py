"""Privacy operations: purposes on record, the retention sweep, data-subject rights,
rectification, disclosures and requests.

Identifiers of the same person beyond the one in the path go in ``also``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from archive import rights
from archive.config import Role
from archive.model import Channel, Direction
from search_api.schemas.common import BodyModel, ItemPurposePublic, PublicModel, Timestamp

# -- request bodies -----------------------------------------------------------------------------


class SweepRun(BodyModel):
    dry_run: bool = True
    #: Only for a dry run: what a sweep at that time would do.
    now: datetime | None = None


class ErasureCreate(BodyModel):
    also: list[str] = Field(default_factory=list)
    request_id: int | None = None
    parties_only: bool = False
    #: Also erase items that mention the subject but belong to other data subjects.
    erase_others: bool = False
    #: Only answer what would be erased and kept; change nothing (audited as a dry run).
    dry_run: bool = False
    #: The data-subject request the proposal is for (default: ``request_id``).
    case_id: int | None = Field(default=None, description=(
        "the open request case this answers; the executed action is noted in it"))


class RestrictionCreate(BodyModel):
    reason: str = Field(min_length=1, max_length=2000)
    also: list[str] = Field(default_factory=list)
    request_id: int | None = None


class RestrictionLift(BodyModel):
    note: str = Field(min_length=1, max_length=2000,
                      description="how and when the subject was informed (Art. 18(3))")
    also: list[str] = Field(default_factory=list)
    #: The data-subject request the proposal is for.
    case_id: int | None = Field(default=None, description=(
        "the open request case this answers; the executed action is noted in it"))


class ObjectionCreate(BodyModel):
    purposes: list[str] | None = None
    withdrawal: bool = False
    also: list[str] = Field(default_factory=list)
    request_id: int | None = None
    #: Also end purposes of items that mention the subject but belong to other data subjects.
    include_others: bool = False
    #: Only answer what would be dropped, purged and kept; change nothing.
    dry_run: bool = False
    #: The data-subject request the proposal is for (default: ``request_id``).
    case_id: int | None = Field(default=None, description=(
        "the open request case this answers; the executed action is noted in it"))


class AnnotationCreate(BodyModel):
    text: str = Field(min_length=1, max_length=20_000)
    subject: str | None = None
    request_id: int | None = None


class DisclosureCreate(BodyModel):
    item_ids: list[str] = Field(min_length=1, max_length=10_000)
    recipient: str = Field(min_length=1, max_length=300)
    legal_basis: str = Field(min_length=1, max_length=2000)
    disclosed_at: datetime | None = None
    reference: str | None = Field(default=None, max_length=300)


class SubjectRequestCreate(BodyModel):
    kind: rights.RequestKind
    subject: str = Field(min_length=1, max_length=600)
    requested_by: str = Field(min_length=1, max_length=300)
    verified_by: str | None = Field(default=None, max_length=200)
    received_at: datetime | None = None
    note: str | None = None


class SubjectRequestClose(BodyModel):
    status: str = Field(default="done", pattern="^(done|refused)$")
    note: str | None = None


# -- purposes and retention ---------------------------------------------------------------------


class PurposeReportPublic(PublicModel):
    """A purpose on record (Art. 30) with its item counts."""

    purpose: str
    description: str
    lawful_basis: str
    retention_days: int
    roles: list[Role]
    anonymised: bool
    stops_on_objection: bool
    blocks_erasure: bool
    items: int
    items_past_retention: int
    oldest_item: Timestamp | None = Field(
        description="when the oldest item carrying this purpose happened (none: no items)")


class ItemReasonPublic(PublicModel):
    item_id: str
    reason: str


class OutsideSweepPublic(PublicModel):
    source: str = Field(description="what was swept, e.g. 'drop folder: rejected recordings'")
    purged: list[str] = Field(description="names of what was (or, in a dry run, would be) purged")


class SweepReportPublic(PublicModel):
    now: Timestamp
    dry_run: bool
    examined: int = Field(description="items with at least one expired purpose")
    dropped: list[ItemPurposePublic]
    purged: list[str]
    held: list[str] = Field(description="items kept whole by a legal hold")
    restricted: list[str] = Field(
        description="items left alone while restricted (Art. 18); swept once lifted")
    failed: list[ItemReasonPublic] = Field(description="retried next sweep")
    seconds: float
    items_per_second: float | None
    audit_seq: int | None
    outside: list[OutsideSweepPublic] = Field(
        description="material that is not an item, purged by the same sweep "
                    "(e.g. rejected drop-folder recordings)")


# -- subjects -----------------------------------------------------------------------------------


class SubjectItemPublic(PublicModel):
    item_id: str
    channel: Channel
    started_at: Timestamp
    match: list[str] = Field(description="party and/or mention")
    direction: Direction
    purposes: list[str]
    restricted: bool
    held: bool


class SubjectOverviewPublic(PublicModel):
    subject: str
    kind: str = Field(description="what kind of identifier the subject was found by")
    items: list[SubjectItemPublic]


class VConPublic(PublicModel):
    """One conversation in the IETF vCon JSON format (draft-ietf-vcon-vcon-core)."""

    vcon: str = Field(description="vCon version")
    uuid: str
    created_at: Timestamp
    subject: str
    parties: list[dict[str, Any]] = Field(description="vCon parties (tel, mailto, sip...)")
    dialog: list[dict[str, Any]] = Field(description="vCon dialogs: originals inline")
    analysis: list[dict[str, Any]] = Field(description="transcripts")
    attachments: list[dict[str, Any]] = Field(
        description="lawful basis, disclosures and rectifications")


class RecipientDisclosurePublic(PublicModel):
    legal_basis: str
    disclosed_at: Timestamp
    reference: str | None


class RecipientPublic(PublicModel):
    """A recipient the items were disclosed to: to be told of the change (Art. 19)."""

    recipient: str
    item_ids: list[str]
    disclosures: list[RecipientDisclosurePublic]


class ErasedItemPublic(PublicModel):
    item_id: str
    channel: Channel
    started_at: Timestamp
    match: list[str]


class KeptItemPublic(ErasedItemPublic):
    reason: str = Field(description="legal_hold, legal_obligation, other_subjects, or a failure")
    detail: str
    kept_purposes: list[str] | None = Field(default=None,
                                            description="legal_obligation only")
    purposes_erased: list[str] | None = Field(default=None,
                                              description="legal_obligation only")


class OutsideErasurePublic(PublicModel):
    """The subject's data that lives outside the catalog, erased with the request."""

    source: str = Field(description="where it lived, e.g. the drop folder's rejected recordings")
    erased: list[str]
    unattributed: list[str] = Field(description="found there but not attributable to anyone "
                                                "without opening it: left for review")
    handed_out: list[str] = Field(default_factory=list, description=(
        "copies already handed out (exported training sets) that held the subject's items: "
        "the archive cannot recall them; ask their holders to delete them"))


class ErasureCertificatePublic(PublicModel):
    """What was erased and what was kept, and why (Art. 17)."""

    certificate: str
    dry_run: bool = Field(description="true: nothing was changed; this is what would happen")
    subject: str
    request_id: int | None
    issued_at: Timestamp
    issued_by: str
    method: str
    erased: list[ErasedItemPublic]
    kept: list[KeptItemPublic]
    outside_catalog: list[OutsideErasurePublic]
    recipients_to_notify: list[RecipientPublic]
    audit_seq: int | None


class RestrictionPublic(PublicModel):
    subject: str
    restricted: list[str]
    recipients_to_notify: list[RecipientPublic]
    audit_seq: int


class RestrictionLiftedPublic(PublicModel):
    subject: str
    lifted: list[str]
    recipients_to_notify: list[RecipientPublic]
    audit_seq: int


class ObjectionKeptPublic(PublicModel):
    item_id: str
    reason: str = Field(description="legal_hold, other_subjects, or a failure")
    purposes: list[str] | None = Field(default=None,
                                       description="the purposes a legal hold kept")


class ObjectionPublic(PublicModel):
    subject: str
    purposes: list[str] = Field(description="the purposes that end")
    dry_run: bool = Field(description="true: nothing was changed; this is what would happen")
    dropped: list[ItemPurposePublic]
    purged: list[str]
    kept: list[ObjectionKeptPublic]
    audit_seq: int


# -- rectification, disclosures, requests -------------------------------------------------------


class AnnotationCreatedPublic(PublicModel):
    item_id: str
    annotation_id: int
    created_at: Timestamp
    recipients_to_notify: list[RecipientPublic]
    audit_seq: int


class DisclosureCreatedPublic(PublicModel):
    item_ids: list[str]
    recipient: str
    legal_basis: str
    disclosed_at: Timestamp
    reference: str | None
    audit_seq: int


class DisclosurePublic(PublicModel):
    id: int
    item_id: str
    recipient: str
    legal_basis: str
    disclosed_at: Timestamp
    reference: str | None
    recorded_by: str


class SubjectRequestPublic(PublicModel):
    id: int
    kind: str
    subject: str
    requested_by: str
    verified_by: str | None
    received_at: Timestamp
    due_at: Timestamp
    status: str = Field(description="open, done or refused")
    closed_at: Timestamp | None
    note: str | None
    overdue: bool
