"""Training sets: what a trainer sends to build one, and the set and its preview as sent back.

Nothing here carries an archive item id: a trainer knows items by their
pseudonym in the set only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from archive.model import Channel
from archive.training import Stratify
from search_api.schemas.common import BodyModel, PublicModel, Timestamp


class TrainingSetCreate(BodyModel):
    title: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=2000,
                         description="what the set is for (written into its datasheet)")
    size: int = Field(ge=1, le=500, description="how many items to pick")
    channel: Channel | None = None
    language: str | None = Field(default=None, max_length=16, description="e.g. nl, fr, en")
    since: date | None = Field(default=None, description="first day (started_at, UTC)")
    until: date | None = Field(default=None, description="last day (started_at, UTC)")
    stratify: Stratify | None = Field(default=None,
                                      description="equal shares per channel or language")
    seed: int = Field(default=0, ge=0, le=2**31, description="the same seed picks the same "
                                                             "items from the same archive")
    surrogates: bool = Field(default=False, description="realistic made-up names and numbers "
                                                        "instead of labels like [Klant-1]")
    reviewed: bool | None = Field(default=None, description="only items the quality team "
                                  "reviewed (true) or has not (false)")
    score_min: float | None = Field(default=None, ge=0, le=100,
                                    description="lowest review score (0-100)")
    score_max: float | None = Field(default=None, ge=0, le=100,
                                    description="highest review score (0-100)")
    topic: str | None = Field(default=None, max_length=200, description="only items a "
                              "monitoring policy of this name put in the review queue")


class CriteriaPublic(PublicModel):
    size: int
    channel: str | None
    language: str | None
    since: str | None
    until: str | None
    stratify: str | None
    seed: int
    reviewed: bool | None = None
    score_min: float | None = None
    score_max: float | None = None
    topic: str | None = None


class LeftOutPublic(PublicModel):
    id: str = Field(description="the item's pseudonym in this set")
    channel: str
    reason: str


class GonePublic(PublicModel):
    id: str
    reason: str | None


class TrainingSetPublic(PublicModel):
    id: str
    title: str
    purpose: str
    criteria: CriteriaPublic
    surrogates: bool
    created_by: str
    created_at: Timestamp
    expires_at: Timestamp | None = Field(
        description="when the set is deleted: the first end of its items' training retention")
    status: str = Field(description="draft, or exported (handed out)")
    exported_at: Timestamp | None
    exported_by: str | None
    items: int
    excluded: list[LeftOutPublic] = Field(
        description="picked but left out (e.g. calls without a trustworthy transcript)")
    gone: list[GonePublic] = Field(description="items erased or expired after hand-out")


class PreviewItemPublic(PublicModel):
    id: str = Field(description="the item's pseudonym in this set")
    channel: str
    language: str | None
    date: str
    title: str
    text: str = Field(description="the anonymised, pseudonymised text or transcript")
    duration_s: float | None
    redactions: dict[str, int] = Field(description="redacted spans per category")
    pseudonyms: list[str]


class TrainingSetPreviewPublic(PublicModel):
    set: TrainingSetPublic
    items: list[PreviewItemPublic]
    unavailable: list[LeftOutPublic]


class TrainingSetDeletedPublic(PublicModel):
    id: str
    deleted: bool


def preview_public(rendered: Any) -> TrainingSetPreviewPublic:
    """The preview of a rendered set (``archive.training.RenderedSet``)."""
    return TrainingSetPreviewPublic(
        set=TrainingSetPublic.model_validate(rendered.set.public()),
        items=[PreviewItemPublic(
            id=i.pseudo_id, channel=i.channel.value, language=i.language, date=i.date,
            title=i.title, text=i.text, duration_s=i.duration_s,
            redactions=dict(sorted(i.redactions.items())), pseudonyms=sorted(i.pseudonyms))
            for i in rendered.items],
        unavailable=[LeftOutPublic.model_validate(u) for u in rendered.unavailable])
