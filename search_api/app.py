"""The FastAPI application: API routers, error shape, body limits, web UI."""

from __future__ import annotations

from fastapi import FastAPI

from archive.service import Archive
from search_api import ui
from search_api.body_limits import BodyGuard, BodyLimits
from search_api.errors import install_error_handlers
from search_api.routers import admin, health, holds, items, privacy, recordings, search, session
from search_api.sessions import Sessions


def create_app(archive: Archive) -> FastAPI:
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
    install_error_handlers(app)
    limits = BodyLimits(routes={recordings.router.prefix: recordings.MAX_BODY_BYTES})
    app.add_middleware(BodyGuard, archive=archive, sessions=sessions, limits=limits)
    for router in (health.router, search.router, items.router, recordings.router,
                   privacy.router, holds.router, admin.router, session.router, ui.router):
        app.include_router(router)
    return app
