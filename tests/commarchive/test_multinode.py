"""Two ``serve`` nodes and two ``commarchive worker`` processes on one archive, as the
compose file runs them: PostgreSQL (catalog, keyring, sessions, job queue), S3 (moto:
store and Object Lock anchor) and Elasticsearch, all started by ``tests.services``
(never skipped under CI). SMTP to node A, an upload to A, a sipp SIPREC call to B; a
session cookie from A reads on B; node A is SIGKILLed during SMTP ingest and a worker
during a transcription: every acknowledged item is present once, each call transcribed
once, the mail searchable from B; an erasure on A is in the S3 erasure ledger (no node's
disk) and named by B's next anchor record; a subject-access export from B returns the
bytes A archived; a sweep started on both nodes at once purges each item exactly once;
``audit verify`` passes."""

from __future__ import annotations

import io
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest
import sqlalchemy as sa

from archive import catalog as cat
from archive.anchors.s3 import S3Anchor
from archive.jobs import JobState, jobs
from archive.model import Channel, TranscriptStatus
from archive.service import Archive
from commarchive import runtime
from commarchive.settings import Settings
from search_api.sessions import SESSION_COOKIE
from tests.ingest.sip.sipp import run_siprec
from tests.ingest.transcription.test_engine import speak
from tests.ingest.transcription.test_worker import AGENT_LINE, CUSTOMER_LINE, stereo_wav
from tests.services import elasticsearch_url, postgres_database, s3_endpoint

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.timeout(900)]

WAIT_S = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(done: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Cluster:
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp = tmp_path
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, IO[bytes]] = {}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "commarchive", *args], env=self.env,
                              capture_output=True, text=True, timeout=300, check=False)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", "commarchive", *args], env=self.env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name], self.logs[name] = proc, log
        return proc

    def serve(self, name: str, http: int, *listeners: str) -> None:
        self.start(name, "serve", "--http", f"127.0.0.1:{http}", *listeners)
        wait_for(lambda: self._ready(name, http), f"{name} to serve")

    def _ready(self, name: str, http: int) -> bool:
        assert self.procs[name].poll() is None, self.log(name)
        try:
            return httpx.get(f"http://127.0.0.1:{http}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(30)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for log in self.logs.values():
            log.close()


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    s3, es, pg = s3_endpoint(), elasticsearch_url(), postgres_database()
    tag = uuid.uuid4().hex[:10]
    shared = {
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "COMMARCHIVE_DATA_DIR": str(tmp_path / "config"),  # archive.toml, mounted everywhere
        "COMMARCHIVE_MASTER_KEY_FILE": str(tmp_path / "secrets" / "master.key"),
        "COMMARCHIVE_ERASURE_LEDGER": str(tmp_path / "secrets" / "erasures"),
        "COMMARCHIVE_CATALOG_URL": pg, "COMMARCHIVE_KEYRING_STORE": "catalog",
        "COMMARCHIVE_STORE": "s3", "COMMARCHIVE_S3_ENDPOINT": s3["endpoint_url"],
        "COMMARCHIVE_S3_ACCESS_KEY": s3["access_key"],
        "COMMARCHIVE_S3_SECRET_KEY": s3["secret_key"], "COMMARCHIVE_S3_REGION": s3["region"],
        "COMMARCHIVE_S3_BUCKET": f"mn-{tag}", "COMMARCHIVE_AUDIT_ANCHOR_S3_BUCKET": f"mn-{tag}-a",
        "COMMARCHIVE_INDEX": "elasticsearch", "COMMARCHIVE_ES_URL": es,
        "COMMARCHIVE_ES_PREFIX": f"mn{tag}", "COMMARCHIVE_EMBEDDED_WORKER": "false",
        "COMMARCHIVE_JOB_LEASE_SECONDS": "3",
    }
    for key in list(os.environ):
        if key.startswith("COMMARCHIVE_"):
            monkeypatch.delenv(key)
    for key, value in shared.items():
        monkeypatch.setenv(key, value)
    made = Cluster(tmp_path, dict(os.environ))
    init = made.cli("init", str(tmp_path / "config"), "--no-input")
    assert init.returncode == 0, init.stderr
    with (tmp_path / "config" / "archive.toml").open("a") as toml:  # the Korean line's calls
        toml.write('\n[[language.rules]]\nlanguage = "ko"\nparty_number_prefix = "+82"\n')
    adopted = subprocess.run(  # a deliberate change: one node adopts, as the README says
        [sys.executable, "-m", "commarchive", "users", "list"], capture_output=True, text=True,
        env={**made.env, "COMMARCHIVE_ADOPT_SHARED_SETTINGS": "true"}, timeout=120)
    assert adopted.returncode == 0, adopted.stderr
    try:
        yield made
    finally:
        made.stop_all()


def _mail(i: int) -> bytes:
    return (f"From: Jan <jan{i}@customer.nl>\r\nTo: support@example.com\r\n"
            f"Subject: outage {i}\r\nMessage-ID: <mn-{i}-{uuid.uuid4().hex}@customer.nl>\r\n"
            f"\r\nThe router is down again, ticket mnword{i}.\r\n").encode()


def _long_call() -> bytes:
    agent, rate = speak(AGENT_LINE)
    customer, _ = speak(CUSTOMER_LINE)
    left = (agent + bytes(rate)) * 4
    right = (bytes(len(agent)) + customer) * 4
    return stereo_wav(rate, left, right)


def test_two_nodes_and_two_workers_lose_nothing_and_do_everything_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    http_a, http_b, smtp_a, sip_b = free_port(), free_port(), free_port(), free_port()
    cluster.serve("node-a", http_a, "--smtp", f"127.0.0.1:{smtp_a}")
    cluster.serve("node-b", http_b, "--sip", f"127.0.0.1:{sip_b}")
    quality = cluster.cli("users", "add", "q", "--role", "quality").stdout.strip()
    pbx = cluster.cli("users", "add", "pbx", "--role", "ingest").stdout.strip()
    worker_procs = [cluster.start(f"worker-{i}", "worker") for i in range(2)]

    # A browser signs in on A; its cookie works on B.
    a = httpx.Client(base_url=f"http://127.0.0.1:{http_a}", timeout=30)
    signed = a.post("/api/v1/session", headers={"Authorization": f"Bearer {quality}"})
    assert signed.status_code == 201, signed.text
    b = httpx.Client(base_url=f"http://127.0.0.1:{http_b}", timeout=30,
                     cookies={SESSION_COOKIE: a.cookies[SESSION_COOKIE]})
    assert b.get("/api/v1/session").json()["name"] == "q"

    # An upload to A: transcribed by a worker, which we SIGKILL mid-transcription.
    upload = a.post("/api/v1/recordings", headers={"Authorization": f"Bearer {pbx}"}, files={
        "audio": ("call.wav", _long_call(), "audio/wav")}, data={"metadata": json.dumps({
            "call_id": "mn-upload-1", "from": "+821012345678", "to": "+31205550100",
            "agent": "+31205550100", "direction": "inbound",
            "start": "2026-11-02T09:00:00Z"})})
    assert upload.status_code == 201, upload.text
    uploaded = upload.json()["item_id"]
    archive = runtime.open_archive(Settings())
    try:
        holder: list[str] = []

        def running_worker() -> bool:
            with archive.catalog.read() as conn:
                row = conn.execute(sa.select(jobs.c.worker).where(
                    jobs.c.key == uploaded, jobs.c.state == JobState.RUNNING.value)).first()
            if row is not None:
                holder.append(str(row.worker))
            return row is not None

        wait_for(running_worker, "a worker to claim the upload's transcription")
        victim = next(i for i, p in enumerate(worker_procs)
                      if f":{p.pid}:" in holder[0])
        cluster.kill(f"worker-{victim}")
        cluster.start("worker-2", "worker")  # the orchestrator starts a replacement

        # A SIPREC call to B, while mail flows to A until A is SIGKILLed.
        call = run_siprec(sip_b, tmp_path)
        assert call.src_rc == 0, call.log
        acked: list[str] = []
        sent: dict[str, bytes] = {}
        smtp_error: list[BaseException] = []

        def send_mail() -> None:
            try:
                for i in range(200):
                    with smtplib.SMTP("127.0.0.1", smtp_a, timeout=30) as mta:
                        mta.ehlo()
                        mta.mail(f"jan{i}@customer.nl")
                        mta.rcpt("support@example.com")
                        mail = _mail(i)
                        code, reply = mta.data(mail)
                    if code == 250:
                        acked.append(reply.decode().rsplit(" ", 1)[1])
                        sent[acked[-1]] = mail
            except (OSError, smtplib.SMTPException) as exc:  # node A died under us
                smtp_error.append(exc)

        sender = threading.Thread(target=send_mail)
        sender.start()
        wait_for(lambda: len(acked) >= 10, "mail acknowledged by A")
        cluster.kill("node-a")
        sender.join(60)
        assert smtp_error, "node A should have died mid-stream"
        # The orchestrator restarts A; its start indexes what it acknowledged but never indexed.
        cluster.serve("node-a2", http_a, "--smtp", f"127.0.0.1:{smtp_a}")

        def all_transcribed() -> bool:
            with archive.catalog.read() as conn:
                busy = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(
                    jobs.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
                    jobs.c.kind == "transcribe")).scalar()
            return not archive.pending_transcripts(10) and busy == 0

        wait_for(all_transcribed, "every call transcribed")
        records = archive.list_records(limit=10_000)
        emails = [r for r in records if r.channel is Channel.EMAIL]
        calls = [r for r in records if r.channel is Channel.CALL]
        assert set(acked) <= {r.id for r in emails}  # every 250 is in the archive
        assert len({r.sha256 for r in emails}) == len(emails)  # once
        assert len(calls) == 2 and uploaded in {r.id for r in calls}
        # The spoken upload is transcribed; sipp's tones end as "no language", also final.
        assert archive.record(uploaded).transcript_status is TranscriptStatus.DONE
        assert TranscriptStatus.PENDING not in {
            archive.record(r.id).transcript_status for r in calls}
        with archive.catalog.read() as conn:
            events = conn.execute(sa.select(cat.audit_events.c.item_ids).where(
                cat.audit_events.c.action.like("transcribe%"),
                cat.audit_events.c.action != "transcribe_read")).all()
        transcribed = [i for (ids,) in events for i in json.loads(ids)]
        assert sorted(transcribed) == sorted(r.id for r in calls)  # each exactly once

        # Searchable from B, with A's cookie.
        def searchable() -> bool:
            found = b.get("/api/v1/search",
                          params={"q": "router", "channel": "email", "limit": 200})
            assert found.status_code == 200, found.text
            return set(acked) <= {hit["id"] for hit in found.json()["items"]}

        wait_for(searchable, "the acknowledged mail searchable from B", 90)

        _erase_on_a_then_export_from_b(cluster, archive, a, b, sent)

        # A sweep started on both nodes at once purges each item once.
        everything = {r.id for r in archive.list_records(limit=10_000)}
    finally:
        archive.close()
    sweeps = [subprocess.Popen([sys.executable, "-m", "commarchive", "sweep", "--now",
                                "2200-01-01T00:00:00Z"], env=cluster.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    reports = []
    for proc in sweeps:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    purged = [i for report in reports for i in report["purged"]]
    assert sorted(purged) == sorted(everything)
    verify = cluster.cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _erase_on_a_then_export_from_b(cluster: Cluster, archive: Archive, a: httpx.Client,
                                   b: httpx.Client, sent: dict[str, bytes]) -> None:
    """An erasure approved on A lands in the S3 erasure ledger, and B's next anchor record
    names it; a subject-access export from B holds the bytes A acknowledged."""
    officers = [cluster.cli("users", "add", f"dpo{n}", "--role", "privacy").stdout.strip()
                for n in range(2)]
    erased, exported = (next(i for i, m in sent.items() if f"From: Jan <jan{n}@".encode() in m)
                        for n in (1, 0))
    proposed = a.post("/api/v1/subjects/jan1@customer.nl/erase", json={},
                      headers={"Authorization": f"Bearer {officers[0]}"})
    assert proposed.status_code == 202, proposed.text
    approved = a.post(f"/api/v1/approvals/{proposed.json()['approval_id']}/approve", json={},
                      headers={"Authorization": f"Bearer {officers[1]}"})
    assert approved.status_code == 200, approved.text
    head = archive.vault.ledger.head(fresh=True)
    assert head is not None
    assert erased in [i for e in archive.vault.ledger.entries() for i in e.item_ids]
    assert not Path(cluster.env["COMMARCHIVE_ERASURE_LEDGER"]).exists()

    zipped = b.get("/api/v1/subjects/jan0@customer.nl/export",
                   headers={"Authorization": f"Bearer {officers[0]}"})
    assert zipped.status_code == 200, zipped.text
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as zf:
        (item,) = json.loads(zf.read("index.json"))["items"]
        assert item["id"] == exported
        assert zf.read(item["files"][0]) == sent[exported]
    # B's audited export is anchored naming the ledger's head: A's erasure.
    seq = int(zipped.headers["X-Audit-Seq"])
    anchor = runtime.build_anchor(Settings(), Path(cluster.env["COMMARCHIVE_DATA_DIR"]),
                                  archive.keyring.archive_id)
    assert isinstance(anchor, S3Anchor)
    (name,) = [o.object_name for o in anchor._client.list_objects(
        anchor.bucket, prefix=anchor.prefix + "/") if str(o.object_name).endswith(
        f"-{seq:020d}")]
    record = anchor._client.get_object(anchor.bucket, name).read()
    assert json.loads(json.loads(record)["body"])["ledger"] == list(head)
    verified = b.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {officers[0]}"})
    assert verified.status_code == 200 and verified.json()["ok"], verified.text
