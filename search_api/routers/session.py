"""The browser's sign-in: a token buys a short-lived session cookie (:mod:`search_api.sessions`).

``POST`` takes the token in the ``Authorization`` header, never in a form or a
URL, so no other site can sign a browser in; ``GET`` says who is signed in
(for bearer clients too); ``DELETE`` ends the session on the server and
clears the cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response, status

from archive.errors import AccessDenied, ErrorCode
from search_api.deps import ArchiveDep, BearerDep, CurrentUser, SessionsDep
from search_api.errors import AUTHENTICATED_ERRORS
from search_api.schemas.session import SessionPublic, SignedOutPublic
from search_api.sessions import SESSION_COOKIE, check_same_site

router = APIRouter(prefix="/api/v1/session", tags=["session"], responses=AUTHENTICATED_ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED)
def sign_in(request: Request, response: Response, archive: ArchiveDep, sessions: SessionsDep,
            credentials: BearerDep) -> SessionPublic:
    """Open a browser session for the bearer token sent; the answer sets its cookie."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AccessDenied(ErrorCode.UNAUTHENTICATED, "sign in with a bearer token")
    user = archive.authenticate(credentials.credentials)
    session_id, expires_at = sessions.open(credentials.credentials,
                                           token_expires_at=user.expires_at)
    response.set_cookie(
        SESSION_COOKIE, session_id,
        max_age=max(0, int((expires_at - datetime.now(UTC)).total_seconds())),
        path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https",
    )
    archive.audit.record(actor=user.name, role=user.role.value, action="sign_in",
                         detail={"session_expires_at": expires_at.isoformat()})
    return SessionPublic(name=user.name, role=user.role, token_expires_at=user.expires_at,
                         session_expires_at=expires_at)


@router.get("")
def who(user: CurrentUser) -> SessionPublic:
    """The signed-in user and role (the UI shows the screens of that role)."""
    return SessionPublic(name=user.name, role=user.role, token_expires_at=user.expires_at)


@router.delete("")
def sign_out(request: Request, response: Response, sessions: SessionsDep) -> SignedOutPublic:
    """End the browser session on the server and clear its cookie."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id is not None:
        check_same_site(request)
        sessions.close(session_id)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return SignedOutPublic(ended=session_id is not None)
