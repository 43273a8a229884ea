"""Dependencies: the archive and the authenticated user, as Annotated aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from archive.config import Role
from archive.errors import AccessDenied, ErrorCode
from archive.service import Archive
from archive.users import User

_bearer = HTTPBearer(auto_error=False)


def get_archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


ArchiveDep = Annotated[Archive, Depends(get_archive)]


def current_user(
    archive: ArchiveDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AccessDenied(ErrorCode.UNAUTHENTICATED, "a bearer token is required")
    return archive.authenticate(credentials.credentials)


CurrentUser = Annotated[User, Depends(current_user)]


def optional_user(
    archive: ArchiveDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User | None:
    """The caller when a token is sent, None without one; a bad token is still refused."""
    if credentials is None:
        return None
    return current_user(archive, credentials)


OptionalUser = Annotated[User | None, Depends(optional_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    def _check(user: CurrentUser) -> User:
        if user.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise AccessDenied(ErrorCode.WRONG_ROLE,
                               f"role {user.role.value} may not do this (needs {allowed})")
        return user

    return _check


PrivacyUser = Annotated[User, Depends(require_roles(Role.PRIVACY))]
LegalUser = Annotated[User, Depends(require_roles(Role.LEGAL))]
IngestUser = Annotated[User, Depends(require_roles(Role.INGEST))]
AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]
