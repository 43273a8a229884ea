"""Fixtures of the HTTP API tests: a client over a fresh archive, the mixed privacy
archive, and the checks every route test shares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from archive.service import Archive
from search_api.app import create_app


@pytest.fixture
def client(archive: Archive) -> Iterator[TestClient]:
    with TestClient(create_app(archive)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(resp: Any, status: int, code: str) -> dict[str, object]:
    """The one error shape: ``{"error": {"code", "message", ...}}`` with that status."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])
