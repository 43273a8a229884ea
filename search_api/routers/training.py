"""Training sets (role trainer): build, list, preview, export as a ZIP, delete.

Everything a route returns comes from the set's one rendering through the
anonymised view (``archive.training``); no route takes or returns an archive
item id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from archive import training
from archive.config import Role
from archive.users import User
from search_api.deps import ArchiveDep, require_roles
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.schemas.training import (
    TrainingSetCreate,
    TrainingSetDeletedPublic,
    TrainingSetPreviewPublic,
    TrainingSetPublic,
    preview_public,
)

router = APIRouter(prefix="/api/v1/training", tags=["training"],
                   responses=AUTHENTICATED_ERRORS)
TrainerUser = Annotated[User, Depends(require_roles(Role.TRAINER))]


@router.post("/sets", status_code=status.HTTP_201_CREATED,
             responses=error_responses(400, 404, 422))
def build_set(body: TrainingSetCreate, archive: ArchiveDep,
              user: TrainerUser) -> TrainingSetPublic:
    """Pick items by the criteria, sample them (seeded), and keep the set as a draft."""
    criteria = training.Criteria(
        size=body.size, channel=body.channel, language=body.language, since=body.since,
        until=body.until, stratify=body.stratify, seed=body.seed, reviewed=body.reviewed,
        score_min=body.score_min, score_max=body.score_max, topic=body.topic)
    made = training.build_set(archive, user, title=body.title, purpose_text=body.purpose,
                              criteria=criteria, surrogates=body.surrogates)
    return TrainingSetPublic.model_validate(made.public())


@router.get("/sets")
def list_sets(archive: ArchiveDep, user: TrainerUser) -> list[TrainingSetPublic]:
    """Every set with its status and expiry, newest first (audited: it names their items'
    pseudonyms)."""
    sets = training.list_sets(archive)
    archive.audit.record(actor=user.name, role=user.role.value, action="list_training_sets",
                         item_ids=sorted({m.item_id for s in sets for m in s.members}))
    return [TrainingSetPublic.model_validate(s.public()) for s in sets]


@router.get("/sets/{set_id}", responses=error_responses(404, 422))
def preview_set(set_id: str, archive: ArchiveDep, user: TrainerUser) -> TrainingSetPreviewPublic:
    """The set and its items as they will be handed out (audited as a read)."""
    return preview_public(training.preview(archive, user, set_id))


@router.get("/sets/{set_id}/export", response_class=Response, responses={
    200: {"description": "The set as a ZIP: manifest.json, datasheet.md, and per item "
                         "bleeped audio.wav with transcript.json and transcript.txt, or "
                         "email.txt",
          "content": {"application/zip": {"schema": {"type": "string",
                                                     "format": "binary"}}}},
    **error_responses(404, 422)})
def export_set(set_id: str, archive: ArchiveDep, user: TrainerUser) -> Response:
    """Hand the set out: from now on an erasure lists it instead of changing it."""
    found, data = training.export_zip(archive, user, set_id)
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{found.id}.zip"',
        "Cache-Control": "no-store"})


@router.delete("/sets/{set_id}", responses=error_responses(404, 422))
def delete_set(set_id: str, archive: ArchiveDep, user: TrainerUser) -> TrainingSetDeletedPublic:
    """Delete a set and its pseudonym key (a copy already handed out is not recalled)."""
    training.delete_set(archive, user, set_id)
    return TrainingSetDeletedPublic(id=set_id, deleted=True)
