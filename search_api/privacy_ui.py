"""The privacy office's pages: the cases dashboard, intake, and one case per address.

One page (``static/privacy.html`` + ``privacy.js``) that reads its screen from the
URL and talks to ``/api/v1/cases``; same look (``app.css``) and the same strict
CSP as the reviewers' UI (``search_api.ui``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from search_api.ui import static_file

router = APIRouter(include_in_schema=False)



@router.get("/privacy")
def dashboard() -> Response:
    """Open cases by due date, overdue in red, and the digest of what falls due."""
    return static_file("privacy.html")


@router.get("/privacy/cases/new")
def intake() -> Response:
    return static_file("privacy.html")


@router.get("/privacy/cases/{case_id}")
def case_page(case_id: int) -> Response:
    return static_file("privacy.html")


@router.get("/ui/privacy.js")
def privacy_js() -> Response:
    return static_file("privacy.js")
