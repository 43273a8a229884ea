"""Dependencies: the archive and the authenticated user, as Annotated aliases.

Who the caller is: the bearer token's user (API clients); else, in the web UI,
the user of the session cookie a token sign-in set (:mod:`search_api.sessions`);
else a machine that proved itself with a client certificate over HTTPS (mutual
TLS) is the ``ingest`` identity ``tls:<common name>``, and nothing more: it can
deliver recordings, never read. The certificate was verified against the
configured client CA (and fingerprint allowlist) in the handshake by
``commarchive.web``, which passes it in the ASGI TLS extension
(``scope["extensions"]["tls"]``); a request without that extension (plain HTTP,
a proxy) never gets this identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final

from cryptography import x509
from cryptography.x509.oid import NameOID
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from archive.config import Role
from archive.errors import AccessDenied, ErrorCode
from archive.service import Archive
from archive.users import User
from search_api.sessions import SESSION_COOKIE, Sessions, check_same_site

_bearer = HTTPBearer(auto_error=False)
#: User names of machines known by their client certificate start with this.
CLIENT_CERTIFICATE_PREFIX: Final = "tls:"


def get_archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


ArchiveDep = Annotated[Archive, Depends(get_archive)]


def client_certificate_user(scope: Mapping[str, Any]) -> User | None:
    """The ``ingest`` machine a verified client certificate names, or None without one."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain or tls.get("client_cert_error"):
        return None
    subject = x509.load_pem_x509_certificate(chain[0].encode()).subject
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else subject.rfc4514_string()
    return User(CLIENT_CERTIFICATE_PREFIX + common_name, Role.INGEST)


def get_sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


SessionsDep = Annotated[Sessions, Depends(get_sessions)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def current_user(
    request: Request, archive: ArchiveDep, sessions: SessionsDep, credentials: BearerDep,
) -> User:
    """The bearer token's user, else the session cookie's (checked against forgery),
    else the machine of a verified client certificate."""
    if credentials is not None:
        if credentials.scheme.lower() != "bearer":
            raise AccessDenied(ErrorCode.UNAUTHENTICATED, "a bearer token is required")
        return archive.authenticate(credentials.credentials)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id is None:
        machine = client_certificate_user(request.scope)
        if machine is not None:
            return machine
        raise AccessDenied(ErrorCode.UNAUTHENTICATED, "a bearer token is required")
    check_same_site(request)
    return sessions.user(session_id)


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
