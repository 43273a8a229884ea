"""The API documentation pages: served from the package, nothing else by that route."""

from __future__ import annotations

from fastapi.testclient import TestClient

from search_api.ui import CSP


def test_docs_page_loads_only_local_assets(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
    assert "http" not in page.text  # no CDN, no remote address at all
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        resp = client.get(asset)
        assert resp.status_code == 200 and len(resp.content) > 100_000, asset


def test_only_the_listed_assets_are_served(client: TestClient) -> None:
    for name in ("core.py", "..%2F..%2Fcore.py", "redoc.standalone.js", "../ui.py"):
        assert client.get(f"/docs/assets/{name}").status_code == 404, name


def test_redoc_leads_to_the_same_document(client: TestClient) -> None:
    resp = client.get("/redoc", follow_redirects=False)
    assert resp.status_code == 308 and resp.headers["location"] == "/docs"
