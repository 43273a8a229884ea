"""The FastAPI application: API routers, error shape, body limits, web UI."""

from __future__ import annotations

from fastapi import FastAPI

from archive.approvals import DEFAULT_EXPIRY_HOURS
from archive.service import Archive
from search_api import legal_pages, privacy_pages, privacy_ui, quality_ui, ui
from search_api.body_limits import BodyGuard, BodyLimits
from search_api.errors import install_error_handlers
from search_api.routers import (
    admin,
    approvals,
    cases,
    health,
    holds,
    items,
    legal,
    privacy,
    quality,
    quality_queue,
    reader,
    recordings,
    search,
    session,
)
from search_api.routers.training import router as training_router
from search_api.routers.training_pages import router as training_pages_router
from search_api.sessions import Sessions


def create_app(archive: Archive, *,
               approval_expiry_hours: float = DEFAULT_EXPIRY_HOURS) -> FastAPI:
    # /docs and /redoc are the UI router's: assets from the package, under the strict CSP.
    app = FastAPI(
        docs_url=None, redoc_url=None,
        title="commarchive",
        version="0.1.0",
        description="Sealed archive of customer e-mails and calls. Every content read "
        "goes through a purpose the caller's role holds and the item still carries.",
    )
    app.state.archive = archive
    app.state.sessions = sessions = Sessions(archive.sessions)
    app.state.approval_expiry_hours = approval_expiry_hours
    install_error_handlers(app)
    limits = BodyLimits(routes={recordings.router.prefix: recordings.MAX_BODY_BYTES})
    app.add_middleware(BodyGuard, archive=archive, sessions=sessions, limits=limits)
    for router in (health.router, search.router, items.router, recordings.router,
                   privacy.router, holds.router, admin.router, session.router,
                   quality.router, quality_queue.router, quality_ui.router, ui.router,
                   cases.router, privacy_ui.router, training_router, training_pages_router,
                   approvals.router, privacy_pages.router, legal.router, legal_pages.router,
                   reader.router):
        app.include_router(router)
    return app
