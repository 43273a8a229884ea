"""Dependencies: the archive and the authenticated user, as Annotated aliases.

A caller authenticates with a bearer token (API clients) or, in the web UI, with
the session cookie a token sign-in set (:mod:`search_api.sessions`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from archive.config import Role
from archive.errors import AccessDenied, ErrorCode
from archive.service import Archive
from archive.users import User
from search_api.sessions import SESSION_COOKIE, Sessions, check_same_site

_bearer = HTTPBearer(auto_error=False)


def get_archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


ArchiveDep = Annotated[Archive, Depends(get_archive)]


def get_sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


SessionsDep = Annotated[Sessions, Depends(get_sessions)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def current_user(
    request: Request, archive: ArchiveDep, sessions: SessionsDep, credentials: BearerDep,
) -> User:
    """The bearer token's user, else the session cookie's (checked against forgery)."""
    if credentials is not None:
        if credentials.scheme.lower() != "bearer":
            raise AccessDenied(ErrorCode.UNAUTHENTICATED, "a bearer token is required")
        return archive.authenticate(credentials.credentials)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id is None:
        raise AccessDenied(ErrorCode.UNAUTHENTICATED, "a bearer token is required")
    check_same_site(request)
    return archive.authenticate(sessions.token(session_id))


CurrentUser = Annotated[User, Depends(current_user)]


def optional_user(
    request: Request, archive: ArchiveDep, sessions: SessionsDep, credentials: BearerDep,
) -> User | None:
    """The caller when a token or session is sent, None without; a bad one is refused."""
    if credentials is None and SESSION_COOKIE not in request.cookies:
        return None
    return current_user(request, archive, sessions, credentials)


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
