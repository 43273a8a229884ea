"""The FastAPI application: API routers, error shape, web UI."""

from __future__ import annotations

import importlib
import logging

from fastapi import FastAPI

from archive.service import Archive
from search_api.errors import install_error_handlers
from search_api.routers import health, items, search

log = logging.getLogger(__name__)

#: Routers that live beside optional features; included when their module exists.
OPTIONAL_ROUTERS = (
    "search_api.routers.recordings",
    "search_api.routers.privacy",
    "search_api.routers.holds",
    "search_api.routers.admin",
    "search_api.ui",
)


def create_app(archive: Archive) -> FastAPI:
    app = FastAPI(
        title="commarchive",
        version="0.1.0",
        description="Sealed archive of customer e-mails and calls. Every content read "
        "goes through a purpose the caller's role holds and the item still carries.",
    )
    app.state.archive = archive
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(items.router)
    for name in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        app.include_router(module.router)
    return app
