"""The quality workspace's pages: every screen has its own address.

One static page (``static/quality.html`` + ``quality.js``, the reader's
``app.css``) that draws the screen its address names, under the same strict
Content Security Policy as the reader (``search_api.ui``): the data comes
from ``/api/v1/quality`` and ``/api/v1/items``, with the same role checks.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from search_api.ui import static_file

router = APIRouter(include_in_schema=False)



@router.get("/quality/queue")
def queue_page() -> Response:
    return static_file("quality.html")


@router.get("/quality/reviews/{review_id}")
def review_page(review_id: int) -> Response:
    return static_file("quality.html")


@router.get("/quality/scorecards")
def scorecards_page() -> Response:
    return static_file("quality.html")


@router.get("/quality/stats")
def stats_page() -> Response:
    return static_file("quality.html")


@router.get("/quality/backfills")
def backfills_page() -> Response:
    return static_file("quality.html")


@router.get("/quality/backfills/{backfill_id}")
def backfill_page(backfill_id: int) -> Response:
    return static_file("quality.html")


@router.get("/quality/calibration/{item_id}")
def calibration_page(item_id: str) -> Response:
    return static_file("quality.html")


@router.get("/agent/reviews")
def agent_reviews_page() -> Response:
    return static_file("quality.html")


@router.get("/ui/quality.js")
def quality_js() -> Response:
    return static_file("quality.js")
