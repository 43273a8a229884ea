"""Data-subject rights, each an audited operation over the archive facade.

Modules (each imports only ``archive.service``'s facade and the archive's lower
modules, never ``archive.holds``; ``subjects`` is the base of the others):

    subjects     find a subject's items (as a party, or mentioned), overview,
                 recipients to notify (Art. 19)
    export       access and portability (Art. 15, 20): ZIP, JSON, vCon
    erasure      Art. 17: crypto-shredding with a certificate
    restriction  Art. 18 restriction, Art. 21 objection, Art. 7(3) withdrawal
    register     rectification notes (Art. 16), disclosures, requests with
                 deadlines (Art. 12(3)), the Art. 30 purposes report
    cases        the privacy office's request cases (intake, verification,
                 deadlines and extension, actions taken, reply, closing, digest;
                 tables in ``case_tables``)
    case_review  a case's lookup, item-by-item review, and the export from it
    datasheet    the export's cover letter (Art. 15(1) information)

Subject-level holds and restrictions that also cover later items live in
``archive.standing``; legal holds in ``archive.holds``.
"""

from __future__ import annotations

from archive.rights.case_review import Decision, case_view, export_case, lookup_case, review_item
from archive.rights.cases import (
    CaseKind,
    CaseOutcome,
    CaseStatus,
    IntakeChannel,
    VerificationMethod,
    close_case,
    digest,
    digest_text,
    extend_deadline,
    get_case,
    list_cases,
    open_case,
    record_case_action,
    record_reply,
    verify_identity,
)
from archive.rights.erasure import ErasureCertificate, erase_subject
from archive.rights.export import EXPORT_FORMAT, ExportPlan, export_subject, start_export, vcons_of
from archive.rights.register import (
    RequestKind,
    RequestStatus,
    add_request,
    annotate_item,
    close_request,
    list_disclosures,
    list_requests,
    purposes_report,
    record_disclosure,
)
from archive.rights.restriction import lift_restriction, object_subject, restrict_subject
from archive.rights.subjects import (
    Identifiers,
    MatchKind,
    SubjectMatch,
    find_subject,
    recipients_to_notify,
    subject_overview,
)

__all__ = [
    "EXPORT_FORMAT",
    "CaseKind",
    "CaseOutcome",
    "CaseStatus",
    "Decision",
    "ErasureCertificate",
    "ExportPlan",
    "Identifiers",
    "IntakeChannel",
    "MatchKind",
    "RequestKind",
    "RequestStatus",
    "SubjectMatch",
    "VerificationMethod",
    "add_request",
    "annotate_item",
    "case_view",
    "close_case",
    "close_request",
    "digest",
    "digest_text",
    "erase_subject",
    "export_case",
    "export_subject",
    "extend_deadline",
    "find_subject",
    "get_case",
    "lift_restriction",
    "list_cases",
    "list_disclosures",
    "list_requests",
    "lookup_case",
    "object_subject",
    "open_case",
    "purposes_report",
    "recipients_to_notify",
    "record_case_action",
    "record_disclosure",
    "record_reply",
    "restrict_subject",
    "review_item",
    "start_export",
    "subject_overview",
    "vcons_of",
    "verify_identity",
]
