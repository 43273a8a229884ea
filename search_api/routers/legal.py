"""Legal's workspace (role legal): a hold's scope previewed before placing it,
disclosures to authorities recorded against a hold, and evidence bundles."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import StreamingResponse

from archive import evidence, holds
from search_api.deps import ArchiveDep, LegalUser
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.schemas.legal import (
    EvidenceCreate,
    HoldDisclosureCreate,
    HoldDisclosurePublic,
    HoldPreviewCreate,
    HoldPreviewItemPublic,
    HoldPreviewPublic,
)

router = APIRouter(prefix="/api/v1", tags=["legal"], responses=AUTHENTICATED_ERRORS)


@router.post("/holds/preview", responses=error_responses(400, 404, 422))
def preview_hold(body: HoldPreviewCreate, archive: ArchiveDep,
                 user: LegalUser) -> HoldPreviewPublic:
    """The items a hold would cover if placed now (nothing is placed; audited)."""
    found = holds.hold_scope(archive, item_ids=body.item_ids, subject=body.subject,
                             query=body.query)
    records = archive.vault.records_of(found.item_ids)
    items = [HoldPreviewItemPublic(item_id=r.id, channel=r.channel,
                                   started_at=r.started_at.isoformat(), held=r.held)
             for r in sorted(records.values(), key=lambda r: r.started_at)]
    archive.audit.record(actor=user.name, role=user.role.value, action="hold_preview",
                         item_ids=found.item_ids, subject=found.subject,
                         detail={"scope": found.scope.value, "count": len(items)})
    return HoldPreviewPublic(scope=found.scope.value, target=found.target, count=len(items),
                             items=items)


@router.post("/holds/{hold_id}/disclosures", status_code=status.HTTP_201_CREATED,
             responses=error_responses(400, 404, 422))
def add_hold_disclosure(hold_id: int, body: HoldDisclosureCreate, archive: ArchiveDep,
                        user: LegalUser) -> HoldDisclosurePublic:
    """Record that items under the hold (default: all) were given to an authority."""
    return HoldDisclosurePublic.model_validate(evidence.record_hold_disclosure(
        archive, hold_id, recipient=body.recipient, legal_basis=body.legal_basis,
        actor=user.name, role=user.role.value, item_ids=body.item_ids,
        reference=body.reference, disclosed_at=body.disclosed_at))


@router.get("/holds/{hold_id}/disclosures", responses=error_responses(404, 422))
def list_hold_disclosures(hold_id: int, archive: ArchiveDep,
                          user: LegalUser) -> list[HoldDisclosurePublic]:
    found = evidence.list_hold_disclosures(archive, hold_id)
    archive.audit.record(actor=user.name, role=user.role.value, action="list_disclosures",
                         item_ids=sorted({i for d in found for i in d["item_ids"]}),
                         detail={"hold_id": hold_id})
    return [HoldDisclosurePublic.model_validate(d) for d in found]


@router.post("/evidence", response_class=StreamingResponse, responses={
    200: {"description": "The bundle: originals, custody records, manifest and its SHA-256",
          "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
    **error_responses(400, 403, 404, 410, 422, 500),
})
def evidence_bundle(body: EvidenceCreate, archive: ArchiveDep,
                    user: LegalUser) -> StreamingResponse:
    """An evidence bundle of byte-exact originals with their chain of custody (audited
    as ``evidence_export``); ``commarchive evidence verify`` checks it offline."""
    bundle = evidence.build_bundle(archive, user, body.item_ids, hold_id=body.hold_id,
                                   note=body.note)
    name = f"evidence-{bundle.bundle_id[:8]}.zip"
    return StreamingResponse(iter([bundle.data]), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
        "X-Manifest-SHA256": bundle.manifest_sha256, "X-Audit-Seq": str(bundle.audit_seq)})
