"""One JSON error shape for every refusal: {"error": {"code", "message", ...}}."""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from archive.errors import AccessDenied, ArchiveError, ErrorCode, TemporaryFailure

STATUS_BY_CODE: Final[dict[ErrorCode, int]] = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.TOKEN_UNKNOWN: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.WRONG_ROLE: 403,
    ErrorCode.PURPOSE_NOT_HELD: 403,
    ErrorCode.PURPOSE_NOT_CARRIED: 403,
    ErrorCode.RESTRICTED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.GONE: 410,
    ErrorCode.INTEGRITY: 500,
    ErrorCode.LEGAL_HOLD: 409,
    ErrorCode.LEGAL_OBLIGATION: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID: 400,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNAVAILABLE: 503,
}


def error_response(
    code: ErrorCode | str, message: str, status: int, **extra: Any
) -> JSONResponse:
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        headers["Retry-After"] = "30"
    body = {"error": {"code": str(code), "message": message, **extra}}
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
        return error_response(exc.code, message, STATUS_BY_CODE.get(exc.code, 400), **extra)

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
        return error_response(code, str(exc.detail), exc.status_code)
