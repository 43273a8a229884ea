"""Browser sessions: a token buys an HttpOnly cookie, forgery is refused, sign-out ends it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from archive.catalog import Catalog
from archive.config import ArchiveConfig, Role
from archive.service import Archive
from archive.sessions import browser_sessions
from search_api.app import create_app
from search_api.sessions import CSRF_HEADER, SESSION_COOKIE, SESSION_SECONDS, Sessions
from tests.conftest import make_archive
from tests.search_api.conftest import assert_error, bearer

SAME_SITE = {CSRF_HEADER: "1"}


def _sign_in(client: TestClient, token: str) -> str:
    resp = client.post("/api/v1/session", headers=bearer(token))
    assert resp.status_code == 201, resp.text
    return resp.headers["set-cookie"]


def test_sign_in_sets_an_httponly_strict_cookie_and_keeps_no_token(
    client: TestClient, tokens: dict[str, str]
) -> None:
    cookie = _sign_in(client, tokens["quality"])
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0].startswith(SESSION_COOKIE + "=")
    assert tokens["quality"].lower() not in cookie.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes
    assert "path=/" in attributes
    max_age = next(int(a.split("=")[1]) for a in attributes if a.startswith("max-age="))
    assert SESSION_SECONDS - 60 <= max_age <= SESSION_SECONDS
    assert "secure" not in attributes  # plain http on localhost: Secure would drop it
    # The cookie alone now reads, with no token in the request.
    assert client.get("/api/v1/search?q=x").status_code == 200
    me = client.get("/api/v1/session").json()
    assert (me["name"], me["role"]) == ("quality-user", "quality")


def test_cookie_is_secure_over_https(archive: Archive, tokens: dict[str, str]) -> None:
    with TestClient(create_app(archive), base_url="https://archive.test") as https:
        cookie = _sign_in(https, tokens["quality"])
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_bad_token_opens_no_session(client: TestClient) -> None:
    resp = client.post("/api/v1/session", headers=bearer("cma_wrong"))
    assert_error(resp, 401, "token_unknown")
    assert "set-cookie" not in resp.headers
    assert_error(client.post("/api/v1/session"), 401, "unauthenticated")


def test_state_changing_cookie_request_needs_the_custom_header_and_own_origin(
    client: TestClient, tokens: dict[str, str]
) -> None:
    _sign_in(client, tokens["quality"])
    # What a forged form post or a cross-site fetch can send: the cookie alone.
    assert_error(client.delete("/api/v1/session"), 403, "cross_site_request")
    assert_error(client.delete("/api/v1/session",
                               headers={**SAME_SITE, "Origin": "https://evil.example"}),
                 403, "cross_site_request")
    assert client.get("/api/v1/session").status_code == 200  # still signed in
    resp = client.delete("/api/v1/session",
                         headers={**SAME_SITE, "Origin": "http://testserver"})
    assert resp.status_code == 200 and resp.json() == {"ended": True}


def test_cookie_and_bearer_both_change_state_when_sent_as_meant(
    client: TestClient, tokens: dict[str, str]
) -> None:
    hold = {"subject": "jan@customer.nl", "reason": "dispute", "case_ref": "C-1"}
    # API clients keep working as before: a browser never adds a bearer token on its own.
    assert client.post("/api/v1/holds", headers=bearer(tokens["legal"]),
                       json=hold).status_code == 201
    _sign_in(client, tokens["legal"])
    assert_error(client.post("/api/v1/holds", json=hold), 403, "cross_site_request")
    assert client.post("/api/v1/holds", headers=SAME_SITE, json=hold).status_code == 201


def test_sign_out_ends_the_session_on_the_server(client: TestClient,
                                                 tokens: dict[str, str]) -> None:
    _sign_in(client, tokens["quality"])
    stolen = client.cookies[SESSION_COOKIE]
    resp = client.delete("/api/v1/session", headers=SAME_SITE)
    assert resp.status_code == 200
    assert SESSION_COOKIE in resp.headers["set-cookie"] and "Max-Age=0" in resp.headers[
        "set-cookie"]
    # A copy of the old cookie, replayed, no longer works.
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, stolen)
    assert_error(client.get("/api/v1/search?q=x"), 401, "token_expired")


def test_revoking_the_user_ends_their_session(client: TestClient, archive: Archive,
                                              tokens: dict[str, str]) -> None:
    _sign_in(client, tokens["quality"])
    archive.users.disable("quality-user")
    assert_error(client.get("/api/v1/search?q=x"), 401, "token_unknown")


def test_session_ends_at_its_expiry_and_never_outlives_the_token(
    archive: Archive, tokens: dict[str, str]
) -> None:
    sessions = Sessions(archive.sessions)
    now = datetime.now(UTC)
    sid, ends = sessions.open(tokens["quality"], now=now)
    assert ends == now + timedelta(seconds=SESSION_SECONDS)
    assert sessions.user(sid, now=ends - timedelta(seconds=1)).name == "quality-user"
    with pytest.raises(Exception, match="sign in"):
        sessions.user(sid, now=ends)
    _, short = sessions.open(tokens["quality"], token_expires_at=now + timedelta(minutes=5),
                             now=now)
    assert short == now + timedelta(minutes=5)


def test_a_cookie_issued_by_one_node_signs_in_on_another_and_survives_a_restart(
    tmp_path: Path, tokens: dict[str, str], archive: Archive
) -> None:
    """Two serve nodes behind a load balancer share the catalog: either accepts the cookie."""
    node_b = Archive(data_dir=archive.data_dir, config=archive.config,
                     catalog=Catalog(archive.catalog.url), store=archive.store,
                     index=archive.index, keyring=archive.keyring)
    with TestClient(create_app(archive)) as a, TestClient(create_app(node_b)) as b:
        _sign_in(a, tokens["quality"])
        b.cookies.set(SESSION_COOKIE, a.cookies[SESSION_COOKIE])
        assert b.get("/api/v1/session").json()["name"] == "quality-user"
        # Sign-out on B ends it on A too.
        assert b.delete("/api/v1/session", headers=SAME_SITE).json()["ended"] is True
        assert_error(a.get("/api/v1/search?q=x"), 401, "token_expired")


def test_the_catalog_holds_neither_the_session_id_nor_the_token(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    _sign_in(client, tokens["quality"])
    session_id = client.cookies[SESSION_COOKIE]
    with archive.catalog.read() as conn:
        rows = [tuple(map(str, r)) for r in conn.execute(sa.select(browser_sessions))]
    assert len(rows) == 1
    flat = " ".join(rows[0])
    assert session_id not in flat and tokens["quality"] not in flat


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[Archive]:
    arc = make_archive(tmp_path / "own", config=ArchiveConfig(
        organisation="Glasnet BV", internal_domains=("glasnet.nl",),
        internal_sip_domains=("pbx.glasnet.nl",), internal_numbers=("+31850001",), rules=()))
    yield arc
    arc.close()


def test_admin_setup_names_example_values_left_and_is_admin_only(
    client: TestClient, tokens: dict[str, str], configured: Archive
) -> None:
    body = client.get("/api/v1/admin/setup", headers=bearer(tokens["admin"])).json()
    assert {"organisation", "internal_domains", "internal_sip_domains",
            "internal_numbers"} <= set(body["example_values"])
    assert "archive.toml" in body["warning"] and "data subjects" in body["warning"]
    assert_error(client.get("/api/v1/admin/setup", headers=bearer(tokens["quality"])),
                 403, "wrong_role")
    admin = configured.users.add("root", Role.ADMIN)
    with TestClient(create_app(configured)) as own:
        body = own.get("/api/v1/admin/setup", headers=bearer(admin)).json()
    assert body == {"example_values": [], "warning": None}
