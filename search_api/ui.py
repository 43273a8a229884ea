"""The reviewers' web UI: one static page that talks to the API in a session cookie.

Items are shown by the reader component (``static/reader.js``), which any page
may load. An e-mail's HTML is shown only as the server sanitised it (text,
structure and links), and a strict Content Security Policy forbids inline
script, remote content and framing; audio plays from its own URL ('self'). The API documentation
pages (:mod:`search_api.docs`) are served under the same policy.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

router = APIRouter(include_in_schema=False)

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; media-src 'self' blob:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_TYPES: Final = {".html": "text/html; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8",
                 ".png": "image/png"}


def page_response(data: bytes, name: str) -> Response:
    """``data`` as the file ``name`` (its type from the suffix), under the strict CSP."""
    media_type = _TYPES[name[name.rindex("."):]]
    return Response(data, media_type=media_type, headers={
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    })


def static_file(name: str) -> Response:
    """``search_api/static/name`` under the strict CSP (every page and script of the UI)."""
    return page_response(
        resources.files("search_api").joinpath("static", name).read_bytes(), name)


@router.get("/")
def index() -> Response:
    return static_file("index.html")


@router.get("/items/{item_id}")
def item_page(item_id: str) -> Response:
    """An item's own address in the UI (the page loads the item through the API)."""
    return static_file("index.html")


@router.get("/ui/app.js")
def app_js() -> Response:
    return static_file("app.js")


@router.get("/ui/reader.js")
def reader_js() -> Response:
    """The item reader component (:file:`static/reader.js`), for every page showing items."""
    return static_file("reader.js")


@router.get("/ui/common.js")
def common_js() -> Response:
    """What every page's script shares (the API call, elements built as text)."""
    return static_file("common.js")


@router.get("/ui/app.css")
def app_css() -> Response:
    return static_file("app.css")


@router.get("/ui/docs.js")
def docs_js() -> Response:
    return static_file("docs.js")


@router.get("/docs")
def docs() -> Response:
    """Swagger UI, its assets from the installed package: nothing loaded from a CDN."""
    return static_file("docs.html")


@router.get("/redoc")
def redoc() -> RedirectResponse:
    """ReDoc's styles are inline ``<style>`` elements, which the strict CSP forbids (it
    fails to render under it), so its address leads to the same document in Swagger UI."""
    return RedirectResponse("/docs", status_code=308)


#: The documentation assets ``fastapi-offline`` ships that /docs uses (the only names served).
DOCS_ASSETS: Final = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"})


@router.get("/docs/assets/{name}")
def docs_asset(name: str) -> Response:
    if name not in DOCS_ASSETS:
        return Response(status_code=404)
    data = resources.files("fastapi_offline").joinpath("static", name).read_bytes()
    return page_response(data, name)
