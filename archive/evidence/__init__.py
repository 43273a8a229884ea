"""Legal's evidence: bundles of originals with their chain of custody, verified offline,
and disclosures to authorities recorded against a legal hold.

Modules (beside ``approvals``, above ``holds`` and ``rights``):

    tables   ``hold_disclosures`` on the catalog metadata
    bundle   build a bundle (audited ``evidence_export``); disclosures under a hold
    verify   check a bundle with nothing but the ZIP (``commarchive evidence verify``)
"""

from __future__ import annotations

from archive.evidence.bundle import (
    Bundle,
    build_bundle,
    list_hold_disclosures,
    record_hold_disclosure,
)
from archive.evidence.verify import Verification, verify_bundle

__all__ = [
    "Bundle",
    "Verification",
    "build_bundle",
    "list_hold_disclosures",
    "record_hold_disclosure",
    "verify_bundle",
]
