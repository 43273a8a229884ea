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

Subject-level holds and restrictions that also cover later items live in
``archive.standing``; legal holds in ``archive.holds``.
"""

from __future__ import annotations

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
    "ErasureCertificate",
    "ExportPlan",
    "Identifiers",
    "MatchKind",
    "RequestKind",
    "RequestStatus",
    "SubjectMatch",
    "add_request",
    "annotate_item",
    "close_request",
    "erase_subject",
    "export_subject",
    "find_subject",
    "lift_restriction",
    "list_disclosures",
    "list_requests",
    "object_subject",
    "purposes_report",
    "recipients_to_notify",
    "record_disclosure",
    "restrict_subject",
    "start_export",
    "subject_overview",
    "vcons_of",
]
