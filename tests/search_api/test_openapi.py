"""The OpenAPI document: every route, every response described."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/search", "/api/v1/items/{item_id}", "/api/v1/items/{item_id}/content",
            "/healthz"} <= set(paths)


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    resolved: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def _described(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A model with properties, or an array of them: not ``{}``, not a bare object."""
    schema = _resolve(doc, schema)
    if schema.get("type") == "array":
        return _described(doc, schema.get("items", {}))
    return bool(schema.get("properties"))


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in doc["paths"].items()
            for method, op in ops.items()]


def test_every_success_response_has_a_schema(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    operations = _operations(doc)
    assert len(operations) >= 28
    for method, path, op in operations:
        successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert successes, f"{method} {path}: no success response"
        for status, response in successes.items():
            where = f"{method} {path} {status}"
            content = response.get("content")
            assert content, f"{where}: no content described"
            for media_type, body in content.items():
                schema = body.get("schema")
                assert schema, f"{where} {media_type}: no schema"
                if media_type == "application/json":
                    assert _described(doc, schema), f"{where}: schema without fields: {schema}"
                else:  # streamed bytes: the content, the export ZIP
                    assert schema == {"type": "string", "format": "binary"}, where


def test_every_error_response_is_the_one_error_model(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    error = doc["components"]["schemas"]["ErrorPublic"]
    assert error["required"] == ["error"]
    detail = _resolve(doc, error["properties"]["error"])
    assert set(detail["properties"]) == {"code", "message", "item_id", "details"}
    assert detail["required"] == ["code", "message"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for method, path, op in _operations(doc):
        if not path.startswith("/api/"):
            continue
        errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        assert {"401", "403"} <= set(errors), f"{method} {path}: refusals not described"
        validated_body = "application/json" in op.get("requestBody", {}).get("content", {})
        if op.get("parameters") or validated_body:
            assert "422" in errors, f"{method} {path}: 422 not described"
        for status, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorPublic"}, (method, path, status)


def test_every_router_is_included(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/healthz", "/api/v1/search", "/api/v1/items/{item_id}", "/api/v1/recordings",
                 "/api/v1/subjects/{identifier}", "/api/v1/holds", "/api/v1/admin/items"):
        assert path in paths, path
    assert client.get("/").headers["content-type"].startswith("text/html")
