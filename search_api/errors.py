"""One JSON error shape for every refusal: {"error": {"code", "message", ...}}.

The shape is the :class:`ErrorPublic` model: every error body is built through it,
and routes name it for each error status they can answer (:func:`error_responses`),
so the OpenAPI document shows what a client gets when it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from archive.errors import (
    AccessDenied,
    ArchiveError,
    ErrorCode,
    RangeNotSatisfiable,
    TemporaryFailure,
)

STATUS_BY_CODE: Final[dict[ErrorCode, int]] = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.TOKEN_UNKNOWN: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.WRONG_ROLE: 403,
    ErrorCode.CROSS_SITE: 403,
    ErrorCode.PURPOSE_NOT_HELD: 403,
    ErrorCode.PURPOSE_NOT_CARRIED: 403,
    ErrorCode.RESTRICTED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.GONE: 410,
    ErrorCode.INTEGRITY: 500,
    ErrorCode.LEGAL_HOLD: 409,
    ErrorCode.LEGAL_OBLIGATION: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.OBJECTED: 409,
    ErrorCode.INVALID: 400,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.RANGE_NOT_SATISFIABLE: 416,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.OWN_PROPOSAL: 403,
    ErrorCode.APPROVAL_EXPIRED: 410,
    ErrorCode.APPROVAL_CLOSED: 409,
}


class ProblemPublic(BaseModel):
    """One invalid parameter or body field of a 422 answer."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="where: location and name, dot-separated (query.limit)")
    problem: str


class ErrorDetailPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ErrorCode = Field(description="stable, machine-readable reason")
    message: str = Field(description="for people; never quotes archived content")
    item_id: str | None = Field(default=None,
                                description="the item refused (only where one is)")
    details: list[ProblemPublic] | None = Field(
        default=None, description="each invalid parameter (only on 422)")


class ErrorPublic(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetailPublic


def _describe(status: int) -> str:
    """The reason phrase and the codes a client can meet under that status."""
    codes = [c.value for c, s in STATUS_BY_CODE.items() if s == status]
    if status == 422:
        codes = [ErrorCode.INVALID.value]
    return f"{HTTPStatus(status).phrase}: {', '.join(codes)}"


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the error statuses a route answers, in the one shape."""
    return {status: {"model": ErrorPublic, "description": _describe(status)}
            for status in sorted(statuses)}


#: What any route behind a bearer token can answer: no or a bad token, a role
#: that may not, the catalog briefly unavailable.
AUTHENTICATED_ERRORS: Final = error_responses(401, 403, 503)


def error_response(
    code: ErrorCode, message: str, status: int, *, headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The error answer; ``extra`` holds only fields :class:`ErrorDetailPublic` declares."""
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        headers["Retry-After"] = "30"
    detail = ErrorDetailPublic(code=code, message=message, **extra)
    body = ErrorPublic(error=detail).model_dump(mode="json", exclude_unset=True)
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ArchiveError)
    async def _archive_error(_request: Request, exc: ArchiveError) -> JSONResponse:
        extra: dict[str, Any] = {}
        item_id = getattr(exc, "item_id", None)
        if item_id:
            extra["item_id"] = item_id
        message = str(exc)
        if isinstance(exc, TemporaryFailure):
            message = f"{exc.what} failed temporarily; try again later"
        if isinstance(exc, AccessDenied):
            message = str(exc)
        headers = ({"Content-Range": f"bytes */{exc.size}"}
                   if isinstance(exc, RangeNotSatisfiable) else None)
        return error_response(exc.code, message, STATUS_BY_CODE.get(exc.code, 400),
                              headers=headers, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        return error_response(ErrorCode.INVALID, "request is not valid", 422, details=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.INVALID, 413: ErrorCode.TOO_LARGE}.get(
            exc.status_code, ErrorCode.INVALID
        )
        return error_response(code, str(exc.detail), exc.status_code, headers=exc.headers)
