"""POST /api/v1/recordings (role ingest): 201 only when the call is durable."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from archive.errors import TemporaryFailure
from archive.outbox import OutboxLimits
from archive.service import Archive
from ingest.audio import write_wav
from search_api.app import create_app
from tests.ingest.test_audio import sine

SIDECAR = {
    "call_id": "up-1",
    "from": "sip:+31201234567@carrier.example.net",
    "to": "sip:agent7@pbx.example.com",
    "agent": "sip:agent7@pbx.example.com",
    "start": "2026-11-20T10:00:00+01:00",
    "from_name": "Jan Jansen",
    "to_name": "Agent Seven",
}


@pytest.fixture
def client(archive: Archive) -> Iterator[TestClient]:
    with TestClient(create_app(archive)) as c:
        yield c


def upload(client: TestClient, token: str, wav: bytes, sidecar: Any = SIDECAR) -> Any:
    return client.post(
        "/api/v1/recordings",
        headers={"Authorization": f"Bearer {token}"},
        files={"audio": ("call.wav", wav, "audio/wav")},
        data={"metadata": sidecar if isinstance(sidecar, str) else json.dumps(sidecar)},
    )


def test_upload_is_created_once_and_shows_channels_and_duration(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    wav = write_wav(8000, [sine(300, 1.5), sine(600, 1.5)])
    resp = upload(client, tokens["ingest"], wav)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["created"] and body["channels"] == 2 and body["duration_s"] == 1.5
    item = client.get(
        f"/api/v1/items/{body['item_id']}", headers={"Authorization": f"Bearer {tokens['quality']}"}
    )
    assert item.status_code == 200, item.text
    again = upload(client, tokens["ingest"], wav)
    assert again.status_code == 200 and again.json()["item_id"] == body["item_id"]
    record = archive.record(body["item_id"])
    assert {p.name for p in record.parties} == {"Jan Jansen", "Agent Seven"}


def test_upload_needs_the_ingest_role(client: TestClient, tokens: dict[str, str]) -> None:
    wav = write_wav(8000, [sine(300, 0.5)])
    assert upload(client, tokens["quality"], wav).status_code == 403
    assert client.post("/api/v1/recordings").status_code in (401, 422)


@pytest.mark.parametrize(("wav", "sidecar"), [(b"junk", SIDECAR), (None, "{broken")])
def test_bad_uploads_get_400_in_the_error_shape(
    client: TestClient, tokens: dict[str, str], wav: bytes | None, sidecar: Any
) -> None:
    resp = upload(client, tokens["ingest"], wav or write_wav(8000, [sine(300, 0.5)]), sidecar)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_request"


def test_archive_outage_answers_503_not_201(
    client: TestClient, archive: Archive, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(item: Any, **kw: Any) -> Any:
        raise TemporaryFailure("ingest", reason="down (test)")

    monkeypatch.setattr(archive, "ingest", down)
    resp = upload(client, tokens["ingest"], write_wav(8000, [sine(300, 0.5)]))
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "temporarily_unavailable"


def test_an_index_backlog_over_its_limit_answers_503_until_it_drains(
    client: TestClient, archive: Archive, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = archive.index.upsert

    def held(docs: Any) -> None:
        release.wait(30)
        real(docs)

    monkeypatch.setattr(archive.index, "upsert", held)
    archive.start_indexing(OutboxLimits(max_depth=1, max_age_s=60))
    try:
        for n in range(2):  # 201 at durability, while the index is held
            sidecar = {**SIDECAR, "call_id": f"backlog-{n}"}
            resp = upload(client, tokens["ingest"], write_wav(8000, [sine(300 + n, 0.5)]), sidecar)
            assert resp.status_code == 201, resp.text
        refused = upload(client, tokens["ingest"], write_wav(8000, [sine(500, 0.5)]),
                         {**SIDECAR, "call_id": "backlog-refused"})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "temporarily_unavailable"
        assert len(archive.item_ids()) == 2
    finally:
        release.set()
    assert archive.flush_index(10)
    again = upload(client, tokens["ingest"], write_wav(8000, [sine(500, 0.5)]),
                   {**SIDECAR, "call_id": "backlog-refused"})
    assert again.status_code == 201, again.text


def test_upload_keeps_audio_off_disk_and_checks_the_token_before_the_body(
    client: TestClient, archive: Archive, tokens: dict[str, str],
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tempfile

    spilled: list[object] = []
    real = tempfile.TemporaryFile

    def recording_temporary_file(*args: Any, **kwargs: Any) -> Any:
        spilled.append(kwargs)  # a spooled upload rolling over to disk ends up here
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", recording_temporary_file)
    wav = write_wav(8000, [sine(440, 200.0)])  # 3.2 MB: a form parser would spill it
    assert len(wav) > 3_000_000
    refused = upload(client, "cma_wrong", wav)
    assert refused.status_code == 401
    created = upload(client, tokens["ingest"], wav)
    assert created.status_code == 201, created.text
    assert spilled == []


def test_declared_oversize_upload_is_refused_with_413_before_reading(
    client: TestClient, tokens: dict[str, str],
) -> None:
    resp = client.post("/api/v1/recordings", content=b"x",
                       headers={"Authorization": f"Bearer {tokens['ingest']}",
                                "Content-Type": "multipart/form-data; boundary=b",
                                "Content-Length": str(600 * 1024 * 1024)})
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "too_large"
