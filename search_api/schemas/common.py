"""Pieces every schema module uses."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class BodyModel(BaseModel):
    """A request body: a key the route does not know is refused (422), not ignored."""

    model_config = ConfigDict(extra="forbid")


class PublicModel(BaseModel):
    """A JSON shape the API sends: every key declared, none dropped silently."""

    model_config = ConfigDict(extra="forbid")


#: A time as the archive writes it (``datetime.isoformat()``, with its UTC offset).
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class ItemPurposePublic(PublicModel):
    """A purpose of an item that was (or would be) dropped."""

    item_id: str
    purpose: str
