"""Who is signed in, and the admin's first-start checklist."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from archive.config import Role
from search_api.schemas.common import PublicModel


class SessionPublic(PublicModel):
    """The signed-in user; ``session_expires_at`` only when a browser session was opened."""

    name: str
    role: Role
    token_expires_at: datetime | None = Field(default=None,
                                              description="null: the token never expires")
    session_expires_at: datetime | None = Field(
        default=None, description="when the browser session's cookie stops working")


class SignedOutPublic(PublicModel):
    """The answer to a sign-out."""

    ended: bool = Field(description="a browser session was ended (false: there was none)")


class SetupPublic(PublicModel):
    """Settings still holding the shipped example, and the warning the UI shows for them."""

    example_values: list[str] = Field(description="names in archive.toml, e.g. organisation")
    warning: str | None = Field(description="null once none are left")
