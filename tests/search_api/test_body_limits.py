"""Request bodies: the token is checked before any body byte is read, and bodies are capped.

Against a real server (uvicorn on 127.0.0.1) with a raw socket client that
announces a large body and sends it slowly: the refusal must arrive while the
client is still sending, i.e. before the server read the body. Before these
checks an unauthenticated 64 MiB POST to /api/v1/sweep was read in full
before its 422.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Final

import pytest
import uvicorn

from archive.service import Archive
from search_api.app import create_app
from search_api.body_limits import DEFAULT_MAX_BODY_BYTES
from search_api.routers.recordings import MAX_BODY_BYTES as UPLOAD_MAX_BODY_BYTES

LARGE_BYTES: Final = 64 * 1024 * 1024
CHUNK_BYTES: Final = 16 * 1024
#: How long the client waits for an answer after each slow chunk.
ANSWER_WAIT_S: Final = 0.05
#: The client gives up sending after this long (a full 64 MiB at this pace takes hours).
SEND_FOR_S: Final = 10.0


@pytest.fixture
def server(archive: Archive) -> Iterator[tuple[str, int]]:
    config = uvicorn.Config(create_app(archive), host="127.0.0.1", port=0, log_level="warning",
                            access_log=False, lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield "127.0.0.1", port
    srv.should_exit = True
    thread.join(10)


def slow_post(
    address: tuple[str, int], path: str, *, headers: dict[str, str], chunked: bool = False,
    declared: int = LARGE_BYTES, chunk_bytes: int = CHUNK_BYTES,
) -> tuple[int, dict[str, object], int]:
    """POST a large body slowly; (status, JSON body, body bytes sent before the answer)."""
    kind = "multipart/form-data; boundary=b" if "recordings" in path else "application/json"
    head = [f"POST {path} HTTP/1.1", f"Host: {address[0]}", f"Content-Type: {kind}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {declared}")
    sent = 0
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.settimeout(ANSWER_WAIT_S)
        answer = b""
        deadline = time.monotonic() + SEND_FOR_S
        while time.monotonic() < deadline and b"\r\n\r\n" not in answer:
            try:
                answer += sock.recv(65536)
                continue
            except TimeoutError:
                pass
            if not chunked and sent >= declared:
                sock.settimeout(5)  # all sent: the answer comes once the body is handled
                continue
            chunk = b"[" * min(chunk_bytes, declared - sent if not chunked else chunk_bytes)
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            except OSError:  # the server closed after answering
                sock.settimeout(2)
                continue
            sent += len(chunk)
        assert b"\r\n\r\n" in answer, f"no answer after sending {sent} bytes"
        sock.settimeout(2)
        head_bytes, _, body = answer.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head_bytes.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(body) < length:
            more = sock.recv(65536)
            if not more:
                break
            body += more
    status = int(head_bytes.split(b" ")[1])
    return status, json.loads(body), sent


def test_an_unauthenticated_large_post_is_refused_before_its_body_is_read(
    server: tuple[str, int],
) -> None:
    status, body, sent = slow_post(server, "/api/v1/sweep", headers={})
    assert status == 401 and body["error"]["code"] == "unauthenticated"  # type: ignore[index]
    assert sent < DEFAULT_MAX_BODY_BYTES


def test_a_bad_token_is_refused_before_the_body_too(server: tuple[str, int]) -> None:
    status, body, sent = slow_post(server, "/api/v1/sweep", chunked=True,
                                   headers={"Authorization": "Bearer cma_bogus"})
    assert status == 401 and body["error"]["code"] == "token_unknown"  # type: ignore[index]
    assert sent < DEFAULT_MAX_BODY_BYTES


def test_a_declared_length_over_the_route_cap_is_413_at_once(
    server: tuple[str, int], tokens: dict[str, str]
) -> None:
    status, body, sent = slow_post(server, "/api/v1/sweep",
                                   headers={"Authorization": f"Bearer {tokens['privacy']}"})
    assert status == 413 and body["error"]["code"] == "too_large"  # type: ignore[index]
    assert sent < DEFAULT_MAX_BODY_BYTES


def test_a_chunked_body_is_counted_and_cut_at_the_cap(
    server: tuple[str, int], tokens: dict[str, str]
) -> None:
    status, body, sent = slow_post(server, "/api/v1/sweep", chunked=True,
                                   headers={"Authorization": f"Bearer {tokens['privacy']}"})
    assert status == 413 and body["error"]["code"] == "too_large"  # type: ignore[index]
    assert DEFAULT_MAX_BODY_BYTES <= sent < 2 * DEFAULT_MAX_BODY_BYTES


def test_uploads_keep_their_larger_cap(server: tuple[str, int], tokens: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {tokens['ingest']}"}
    status, body, _ = slow_post(server, "/api/v1/recordings", headers=auth,
                                declared=UPLOAD_MAX_BODY_BYTES + 1)
    assert status == 413 and body["error"]["code"] == "too_large"  # type: ignore[index]
    # Over the default cap but under the upload cap: read, then refused for what it is.
    status, body, sent = slow_post(server, "/api/v1/recordings", headers=auth,
                                   declared=2 * DEFAULT_MAX_BODY_BYTES, chunk_bytes=256 * 1024)
    assert status == 400, body
    assert sent >= 2 * DEFAULT_MAX_BODY_BYTES
