"""SIGKILL soak for the SMTP ingest: every message that got a 250 is archived exactly once.

A client pool sends messages (journaling-style: several envelope recipients,
some 8-bit, some unparseable) to a server in a subprocess, which runs with the
production default of ingest worker processes and is killed with SIGKILL at
random moments and restarted. A ``250`` means durable, not yet searchable, so a
kill a few milliseconds after one lands while the index outbox still holds
acknowledged items: each restart reports how many items the catalog still
marked unindexed, which its outbox then indexes. Clients behave like an MTA:
anything but a 250 (4xx, dropped connection, refused connection) is retried
later. Afterwards the archive is opened as ``serve`` opens it (the outbox
drains what is marked) and checked: every acknowledged message is present
exactly once, byte-exact and in the search index, and no message is present
twice.

Long form (minutes)::

    python -m tests.soak.smtp_crash soak --messages 3000 --kills 40 --clients 8
    python -m tests.soak.smtp_crash soak --messages 3000 --kills 40 --cli  # via the CLI

The bounded CI form is ``tests/ingest/email/test_smtp_crash.py``. ``serve`` is the
small server runner used by default (``--cli`` uses ``commarchive serve``,
which also starts the HTTP API and background jobs, so restarts are slower).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S: Final = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_message(index: int, rng: random.Random, run_id: str) -> tuple[bytes, str, list[str]]:
    """A distinct message: (raw bytes, envelope sender, envelope recipients)."""
    size = rng.choice((600, 2_000, 8_000, 30_000))
    words = " ".join(f"w{rng.randrange(10**6)}" for _ in range(size // 8))
    lines = [words[i : i + 76] for i in range(0, len(words), 76)]
    body = "\r\n".join(lines)
    kind = index % 10
    sender = f"customer{index % 37}@customer.nl"
    rcpts = ["support@example.com", f"agent{index % 5}@example.com"]
    if kind == 7:  # an unparseable one: still archived, byte-exact
        raw = f"garbage {run_id} {index}\r\n\x00\r\n".encode() + body.encode()
        return raw + b"\r\n", sender, rcpts
    charset_body = body.encode()
    extra = ""
    if kind == 3:
        charset_body = ("Grüße — ".encode() + charset_body)
        extra = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    head = (
        f"From: Customer <{sender}>\r\nTo: support@example.com\r\n"
        f"Subject: soak {run_id} #{index}\r\nMessage-ID: <{run_id}.{index}@customer.nl>\r\n"
        f"{extra}\r\n"
    ).encode()
    return head + charset_body + b"\r\n", sender, rcpts


# ------------------------------------------------------------------ server process


def serve_main(data_dir: Path, port: int) -> None:
    """Open the archive and run the SMTP server until killed (prints READY when listening,
    with the number of items the catalog still marked unindexed at this start)."""
    import functools

    from commarchive import runtime
    from commarchive.settings import SERVE_SMTP_WORKERS, Settings
    from ingest.email.config import SmtpConfig
    from ingest.email.smtp import start_smtp_server

    async def run() -> None:
        settings = Settings(data_dir=data_dir)
        archive = runtime.open_archive(settings)
        archive.start_indexing()
        marked = archive.index_status().depth
        handle = await start_smtp_server(
            archive, SmtpConfig(port=port, max_concurrent=8, workers=SERVE_SMTP_WORKERS),
            preparer=functools.partial(runtime.open_preparer, settings))
        print(f"READY {handle.port} {marked}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


class ServerProcess:
    def __init__(self, data_dir: Path, port: int, *, use_cli: bool = False) -> None:
        self.data_dir = data_dir
        self.port = port
        self.use_cli = use_cli
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        #: Items the catalog still marked unindexed at each start (the outbox's backlog).
        self.marked_at_start: list[int] = []

    def _command(self) -> list[str]:
        if self.use_cli:
            return [sys.executable, "-m", "commarchive", "--data-dir", str(self.data_dir),
                    "serve", "--smtp", f"127.0.0.1:{self.port}",
                    "--http", f"127.0.0.1:{free_port()}"]
        return [sys.executable, "-m", "tests.soak.smtp_crash", "serve",
                "--data-dir", str(self.data_dir), "--port", str(self.port)]

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.proc = subprocess.Popen(
            self._command(), cwd=REPO_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self.starts += 1
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(3) == b"220":
                        self._read_ready()
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not become ready")

    def _read_ready(self) -> None:
        if self.use_cli or self.proc is None or self.proc.stdout is None:
            return
        ready = self.proc.stdout.readline().split()
        if len(ready) == 3 and ready[0] == b"READY":
            self.marked_at_start.append(int(ready[2]))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


# ------------------------------------------------------------------ soak


@dataclass
class SoakReport:
    messages: int
    acked: int = 0
    attempts: int = 0
    tempfails: int = 0
    disconnects: int = 0
    kills: int = 0
    seconds: float = 0.0
    missing: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    corrupted: list[int] = field(default_factory=list)
    unacked: list[int] = field(default_factory=list)
    #: Acknowledged and stored, but not in the search index after the restart.
    unsearchable: list[int] = field(default_factory=list)
    #: Items the catalog still marked unindexed at each restart (killed while indexing).
    marked_at_restart: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.corrupted or self.unacked
                    or self.unsearchable)

    def summary(self) -> str:
        return (
            f"{self.acked}/{self.messages} acknowledged in {self.seconds:.1f}s over "
            f"{self.kills} SIGKILLs ({self.attempts} attempts, {self.tempfails} 4xx, "
            f"{self.disconnects} dropped connections); missing={len(self.missing)} "
            f"duplicated={len(self.duplicated)} corrupted={len(self.corrupted)} "
            f"unacked={len(self.unacked)} unsearchable={len(self.unsearchable)}; "
            f"left unindexed at the restarts: {self.marked_at_restart}"
        )


def run_soak(
    data_dir: Path,
    *,
    messages: int,
    kills: int,
    clients: int = 4,
    seed: int = 1,
    deadline_s: float = 120.0,
    use_cli: bool = False,
) -> SoakReport:
    from commarchive import runtime
    from commarchive.settings import Settings

    runtime.init_archive(Settings(data_dir=data_dir)).close()
    rng = random.Random(seed)
    run_id = f"soak{seed}x{rng.randrange(10**9)}"
    corpus = [make_message(i, rng, run_id) for i in range(messages)]
    report = SoakReport(messages)
    pending: deque[int] = deque(range(messages))
    acked: set[int] = set()
    lock = threading.Lock()
    stop = threading.Event()
    server = ServerProcess(data_dir, free_port(), use_cli=use_cli)
    server.start()
    started = time.monotonic()

    def client() -> None:
        smtp: smtplib.SMTP | None = None
        while not stop.is_set():
            with lock:
                if not pending:
                    if len(acked) == messages:
                        break
                    index = None
                else:
                    index = pending.popleft()
            if index is None:
                time.sleep(0.05)
                continue
            raw, sender, rcpts = corpus[index]
            ok = False
            try:
                if smtp is None:
                    smtp = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
                    smtp.ehlo()
                with lock:
                    report.attempts += 1
                smtp.mail(sender)
                for rcpt in rcpts:
                    smtp.rcpt(rcpt)
                code, _ = smtp.data(raw)
                ok = code == 250
                if not ok:
                    with lock:
                        report.tempfails += 1
                    smtp.rset()
            except (OSError, smtplib.SMTPException):
                with lock:
                    report.disconnects += 1
                smtp = None
                time.sleep(0.1)
            with lock:
                if ok:
                    acked.add(index)
                else:
                    pending.append(index)

    def killer() -> None:
        # Kill at random points of the traffic (by progress, so every kill lands while
        # messages are in flight), a few milliseconds after the threshold is crossed.
        thresholds = sorted(rng.uniform(0.05, 0.95) * messages for _ in range(kills))
        for threshold in thresholds:
            while len(acked) < threshold:
                if stop.wait(0.005):
                    return
            time.sleep(rng.uniform(0, 0.03))
            server.kill()
            report.kills += 1
            try:
                server.start()
            except RuntimeError:
                stop.set()
                raise

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    kill_thread = threading.Thread(target=killer, daemon=True)
    for t in threads:
        t.start()
    kill_thread.start()
    deadline = started + deadline_s
    while time.monotonic() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.1)
    stop.set()
    kill_thread.join(READY_TIMEOUT_S)
    for t in threads:
        t.join(35)
    report.seconds = time.monotonic() - started
    server.kill()
    report.marked_at_restart = server.marked_at_start[1:]
    report.acked = len(acked)
    report.unacked = sorted(set(range(messages)) - acked)
    verify(data_dir, corpus, acked, report)
    return report


def verify(
    data_dir: Path, corpus: list[tuple[bytes, str, list[str]]], acked: set[int],
    report: SoakReport,
) -> None:
    from archive.config import Role
    from archive.index import SearchQuery, hit_pages
    from commarchive import runtime
    from commarchive.settings import Settings

    archive = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        archive.start_indexing()  # as serve does: what a kill left marked is indexed first
        assert archive.flush_index(120), "the outbox did not drain"
        searchable = {i for page in hit_pages(
            archive.index, SearchQuery(include_restricted=True), 500) for i in page}
        user = archive.authenticate(archive.users.add("soak-privacy", Role.PRIVACY))
        by_hash: dict[str, list[str]] = {}
        for item_id in archive.item_ids():
            by_hash.setdefault(archive.record(item_id).sha256, []).append(item_id)
        for index, (raw, _, _) in enumerate(corpus):
            ids = by_hash.get(hashlib.sha256(raw).hexdigest(), [])
            if len(ids) > 1:
                report.duplicated.append(index)
            if index in acked:
                if not ids:
                    report.missing.append(index)
                    continue
                if archive.read_content(user, ids[0]).data != raw:
                    report.corrupted.append(index)
                if ids[0] not in searchable:
                    report.unsearchable.append(index)
    finally:
        archive.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.smtp_crash")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--data-dir", type=Path, required=True)
    serve.add_argument("--port", type=int, required=True)
    soak = sub.add_parser("soak")
    soak.add_argument("--messages", type=int, default=3000)
    soak.add_argument("--kills", type=int, default=40)
    soak.add_argument("--clients", type=int, default=8)
    soak.add_argument("--seed", type=int, default=int(time.time()))
    soak.add_argument("--deadline", type=float, default=1800.0)
    soak.add_argument("--cli", action="store_true", help="run `commarchive serve`")
    soak.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve_main(args.data_dir, args.port)
        return 0
    with tempfile.TemporaryDirectory(prefix="smtp-soak-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "archive"
        report = run_soak(data_dir, messages=args.messages, kills=args.kills,
                          clients=args.clients, seed=args.seed, deadline_s=args.deadline,
                          use_cli=args.cli)
    print(f"seed {args.seed}: {report.summary()}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
