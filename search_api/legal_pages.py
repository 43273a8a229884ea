"""Legal's web pages: holds (previewed before placing), one hold with its disclosures,
evidence bundles and lifting under two-person control.

Addresses: ``/legal/holds``, ``/legal/holds/new``, ``/legal/holds/{id}``; all serve
the same static page, which loads everything through the API (role checks and audit
there), under the strict CSP of :mod:`search_api.ui`.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from search_api.ui import static_file

router = APIRouter(include_in_schema=False)



@router.get("/legal/holds")
def holds_page() -> Response:
    return static_file("legal.html")


@router.get("/legal/holds/new")
def new_hold_page() -> Response:
    return static_file("legal.html")


@router.get("/legal/holds/{hold_id}")
def hold_page(hold_id: int) -> Response:
    return static_file("legal.html")


@router.get("/ui/legal.js")
def legal_js() -> Response:
    return static_file("legal.js")
