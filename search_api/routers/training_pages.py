"""The trainers' workspace pages: each screen its own address, one page that draws it.

The page (``static/training.html`` + ``training.js``) reads the path and asks
the API (``/api/v1/training``) for what it shows, under the same strict CSP as
the reader page.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from search_api.ui import static_file

router = APIRouter(include_in_schema=False)



@router.get("/training")
def training_home() -> Response:
    """The set list."""
    return static_file("training.html")


@router.get("/training/sets/new")
def training_new() -> Response:
    """The builder form."""
    return static_file("training.html")


@router.get("/training/sets/{set_id}")
def training_set(set_id: str) -> Response:
    """One set: its preview, its status, the export button."""
    return static_file("training.html")


@router.get("/ui/training.js")
def training_js() -> Response:
    return static_file("training.js")
