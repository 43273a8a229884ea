"""The privacy office's web pages: approvals (two-person control) and subject lookup.

Every screen has its own address, so an approval can be sent to the second
officer as a link: ``/privacy/approvals``, ``/privacy/approvals/{id}``,
``/privacy/subjects`` and ``/privacy/subjects/{identifier}``. All of them serve
the same static page, which loads what it shows through the API (role checks
and audit there), under the strict CSP of :mod:`search_api.ui`.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from search_api.ui import static_file

router = APIRouter(include_in_schema=False)



@router.get("/privacy/approvals")
def approvals_page() -> Response:
    return static_file("privacy-approvals.html")


@router.get("/privacy/approvals/{approval_id}")
def approval_page(approval_id: int) -> Response:
    return static_file("privacy-approvals.html")


@router.get("/privacy/subjects")
def subjects_page() -> Response:
    return static_file("privacy-approvals.html")


@router.get("/privacy/subjects/{identifier}")
def subject_page(identifier: str) -> Response:
    return static_file("privacy-approvals.html")


@router.get("/ui/privacy-approvals.js")
def privacy_approvals_js() -> Response:
    return static_file("privacy-approvals.js")
