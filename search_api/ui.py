"""The reviewers' web UI: one static page that talks to the API in a session cookie.

E-mail is shown as text, never rendered as HTML, and a strict Content Security
Policy forbids inline script, remote content and framing.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; media-src blob:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_TYPES: Final = {"index.html": "text/html; charset=utf-8",
                 "app.js": "text/javascript; charset=utf-8",
                 "app.css": "text/css; charset=utf-8"}


def _static(name: str) -> Response:
    data = resources.files("search_api").joinpath("static", name).read_bytes()
    return Response(data, media_type=_TYPES[name], headers={
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    })


@router.get("/")
def index() -> Response:
    return _static("index.html")


@router.get("/ui/app.js")
def app_js() -> Response:
    return _static("app.js")


@router.get("/ui/app.css")
def app_css() -> Response:
    return _static("app.css")
