"""The HTTP API and the reviewers' web UI over one :class:`archive.service.Archive`.

Holds the FastAPI app (``app``), one router per resource (``routers/``), the JSON
shapes it sends and accepts (``schemas/``), the one error shape (``errors``), the
bearer-token and session-cookie dependencies (``deps``, ``sessions``) and the
static UI with the offline API docs (``ui``). May import
``archive`` (and ``ingest`` for call uploads); only ``commarchive`` imports it.
"""
