"""The scripted CLI forms, run as a user would run them (subprocesses)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

SAMPLE_MAIL = (
    b"From: Piet <piet@klant.nl>\r\nTo: support@example.com\r\n"
    b"Subject: Storing glasvezel\r\nMessage-ID: <cli-1@klant.nl>\r\n"
    b"Date: Tue, 03 Nov 2026 10:00:00 +0100\r\n\r\nMijn glasvezel werkt niet.\r\n"
)


def cli(*args: str, data_dir: Path | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("COMMARCHIVE_DATA_DIR", None)
    if data_dir is not None:
        full_env["COMMARCHIVE_DATA_DIR"] = str(data_dir)
    proc = subprocess.run([sys.executable, "-m", "commarchive", *args], capture_output=True,
                          text=True, env=full_env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"commarchive {args} failed: {proc.stderr}")
    return proc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    target = tmp_path / "arc"
    cli("init", str(target))
    return target


def test_init_creates_private_archive_and_refuses_to_overwrite(data_dir: Path) -> None:
    assert not (data_dir / "master.key").exists()
    assert data_dir.stat().st_mode & 0o777 == 0o700
    again = cli("init", str(data_dir), check=False)
    assert again.returncode == 1
    assert again.stderr.strip().startswith("error:") and "refusing" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_users_add_prints_only_the_token(data_dir: Path) -> None:
    out = cli("users", "add", "alice", "--role", "quality", data_dir=data_dir).stdout
    assert out.count("\n") == 1 and out.startswith("cma_")
    bad = cli("users", "add", "bob", "--role", "superuser", data_dir=data_dir, check=False)
    assert bad.returncode == 2  # click usage error


def test_commands_without_data_dir_fail_with_one_clear_line(tmp_path: Path) -> None:
    proc = cli("users", "list", check=False)
    assert proc.returncode == 1
    assert "--data-dir" in proc.stderr
    proc = cli("--data-dir", str(tmp_path / "none"), "audit", "verify", check=False)
    assert proc.returncode == 1 and "not an archive" in proc.stderr


def test_ingest_prints_item_id_and_dedupes(data_dir: Path, tmp_path: Path) -> None:
    mail = tmp_path / "m.eml"
    mail.write_bytes(SAMPLE_MAIL)
    first = cli("ingest", str(mail), data_dir=data_dir).stdout.strip()
    second = cli("ingest", str(mail), "--channel", "email", data_dir=data_dir)
    assert second.stdout.strip() == first
    assert "already archived" in second.stderr
    assert "audit log OK" in cli("audit", "verify", data_dir=data_dir).stdout


def test_ingest_rejects_bad_call_sidecar_with_reason(data_dir: Path, tmp_path: Path) -> None:
    wav = tmp_path / "c.wav"
    from ingest.audio import write_wav

    wav.write_bytes(write_wav(8000, [b"\x00\x01" * 8000]))
    meta = tmp_path / "c.json"
    meta.write_text("{not json")
    proc = cli("ingest", str(wav), "--meta", str(meta), data_dir=data_dir, check=False)
    assert proc.returncode == 1
    assert "sidecar is not valid JSON" in proc.stderr


def test_keys_rotate_then_content_still_served(data_dir: Path, tmp_path: Path) -> None:
    mail = tmp_path / "m.eml"
    mail.write_bytes(SAMPLE_MAIL)
    item_id = cli("ingest", str(mail), data_dir=data_dir).stdout.strip()
    rotated = json.loads(cli("keys", "rotate", "quality", data_dir=data_dir).stdout)
    assert rotated == {"purpose": "quality", "version": 2, "rewrapped": 1}
    token = cli("users", "add", "q", "--role", "quality", data_dir=data_dir).stdout.strip()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "commarchive", "serve", "--http", f"127.0.0.1:{port}"],
        env={**os.environ, "COMMARCHIVE_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                    assert json.load(resp)["ok"] is True
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(server.stderr.read().decode() if server.stderr
                                         else "serve died") from None
                time.sleep(0.2)
        req = urllib.request.Request(f"{base}/api/v1/search?q=glasvezel",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert [i["id"] for i in json.load(resp)["items"]] == [item_id]
        req = urllib.request.Request(f"{base}/api/v1/items/{item_id}/content",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.read() == SAMPLE_MAIL
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_reindex_restores_identical_results(data_dir: Path, tmp_path: Path) -> None:
    for n in range(3):
        mail = tmp_path / f"m{n}.eml"
        mail.write_bytes(SAMPLE_MAIL.replace(b"cli-1", f"cli-{n}".encode()))
        cli("ingest", str(mail), data_dir=data_dir)
    token = cli("users", "add", "q", "--role", "quality", data_dir=data_dir).stdout.strip()
    env = {"COMMARCHIVE_TOKEN": token}
    before = cli("search", "glasvezel", data_dir=data_dir, env=env).stdout
    for f in data_dir.glob("index.sqlite*"):
        f.unlink()
    assert json.loads(cli("reindex", data_dir=data_dir).stdout) == {"reindexed": 3}
    assert cli("search", "glasvezel", data_dir=data_dir, env=env).stdout == before
    assert before.count("\n") == 3
