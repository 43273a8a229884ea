"""Durable SMTP ingest throughput against aiosmtpd with a no-op handler, same run.

Both servers run as subprocesses on 127.0.0.1; client processes (smtplib, one
persistent connection each) send distinct messages for a fixed time and count
``250`` replies. **no-op** is aiosmtpd with a handler that answers 250 at once
(same size limit and extensions); **ours** is ``ingest.email.smtp`` on a fresh archive
(local store + SQLite catalog + SQLite FTS5 index, 2 ingest worker processes as
``serve`` runs it): MIME parse, seal, fsync the blobs and their directory, commit
the catalog row and audit event (WAL fsync), then 250; the index follows from the
outbox. **parse only** (``--parse``) is ``ingest.email.smtp`` with MIME parsing and
item building but a sink that stores nothing, to split the SMTP/MIME cost from
the archive's. Cases alternate order per round; the best of the rounds per side
is reported.

For ours, after the load stops the bench asks the server to drain its index
outbox and reports the time from enqueueing (just before the 250 is written, so
an upper bound of "250 to searchable") to written in the index, p50/p99 over
every message, and how long the drain took after the load. Server CPU is
user+system time of the server process and its worker processes (``/proc``),
from the start of the load to the end of the drain, per acknowledged message.

    python bench/bench_smtp.py --seconds 8 --clients 8,16 --rounds 1 --sizes "64 KiB"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
SIZES: Final = {"4 KiB": 4 * 1024, "64 KiB": 64 * 1024, "1 MiB": 1024 * 1024}
MAX_MESSAGE_BYTES: Final = 50 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ servers


def run_noop(port: int) -> None:
    from aiosmtpd.smtp import SMTP

    class NoopHandler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(NoopHandler(), data_size_limit=MAX_MESSAGE_BYTES,
                         enable_SMTPUTF8=True, hostname="noop", loop=loop),
            "127.0.0.1", port,
        )
        print("READY", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def run_archive(port: int, data_dir: Path, workers: int) -> None:
    import functools

    from commarchive import runtime
    from commarchive.settings import Settings
    from ingest.email.config import SmtpConfig
    from ingest.email.smtp import start_smtp_server

    async def main() -> None:
        settings = Settings(data_dir=data_dir)
        archive = runtime.open_archive(settings)
        await start_smtp_server(archive, SmtpConfig(port=port, hostname="bench", workers=workers),
                                preparer=functools.partial(runtime.open_preparer, settings))
        print("READY", flush=True)
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, sys.stdin.readline):  # "drain": stats
            started = time.monotonic()
            drained = await asyncio.to_thread(archive.flush_index, 900)
            status = archive.index_status()
            print(json.dumps({"drained": drained, "drain_s": time.monotonic() - started,
                              "indexed": status.indexed, "p50_s": status.latency_p50_s,
                              "p99_s": status.latency_p99_s}), flush=True)

    asyncio.run(main())


def run_parse_only(port: int) -> None:
    """Our SMTP server and MIME parsing, over a sink that stores nothing (cost split)."""
    from archive.model import IngestResult, NewItem
    from archive.parties import domain_matcher
    from ingest.email.config import SmtpConfig
    from ingest.email.smtp import start_smtp_server

    class NullSink:
        is_internal_address = staticmethod(domain_matcher(["example.com"]))

        def prepare(self, new: NewItem) -> Any:
            return new

        def commit_group(self, items: list[Any]) -> Any:
            return items

        def finish_group(self, items: Any) -> list[IngestResult | Exception]:
            return [IngestResult("null", True) for _ in items]

        def recheck_group(self, items: Any) -> None:
            pass

        def abandon(self, item: Any) -> None:
            pass

        def start_indexing(self) -> None:
            pass

        def index_backlog(self) -> None:
            return None

        def authenticate(self, token: str) -> Any:
            raise NotImplementedError

    async def main() -> None:
        await start_smtp_server(NullSink(), SmtpConfig(port=port, hostname="bench"))
        print("READY", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


class Server:
    def __init__(self, kind: str, data_root: Path, workers: int = 0) -> None:
        self.port = free_port()
        args = [sys.executable, str(Path(__file__).resolve()), "_serve", kind, str(self.port)]
        if kind == "ours":
            args.append(str(workers))
            from commarchive import runtime
            from commarchive.settings import Settings

            data_dir = Path(tempfile.mkdtemp(dir=data_root))
            runtime.init_archive(Settings(data_dir=data_dir / "archive")).close()
            args.append(str(data_dir / "archive"))
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                                     env=env, cwd=REPO_ROOT)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"READY":
            raise RuntimeError(f"{kind} server did not start")

    def cpu_s(self) -> float:
        """User+system CPU seconds of the server and its (worker) child processes."""
        ticks = 0
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (OSError, IndexError):
                continue
        return ticks / os.sysconf("SC_CLK_TCK")

    def drain(self) -> dict[str, Any]:
        """Ours only: wait for the index outbox to drain; its latency figures."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(b"drain\n")
        self.proc.stdin.flush()
        stats: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return stats

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stdin):
            if stream is not None:
                stream.close()


# ------------------------------------------------------------------ clients


def make_message(size: int, client: int, index: int) -> bytes:
    head = (
        f"From: Customer {client} <customer{client}@customer.nl>\r\n"
        f"To: support@example.com\r\nSubject: bench {client}-{index} invoice question\r\n"
        f"Message-ID: <bench-{os.getpid()}-{client}-{index}-{time.time_ns()}@customer.nl>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"Lorem ipsum dolor sit amet, invoice refund contract order number 42 ok.\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


def client_loop(port: int, size: int, seconds: float, client: int, out: Any) -> None:
    sent = failed = 0
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
        smtp.ehlo("bench")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            raw = make_message(size, client, sent + failed)
            smtp.mail(f"customer{client}@customer.nl")
            smtp.rcpt("support@example.com")
            smtp.rcpt("journal@example.com")
            code, _ = smtp.data(raw)
            if code == 250:
                sent += 1
            else:
                failed += 1
    out.put((sent, failed))


def measure(port: int, size: int, seconds: float, clients: int) -> tuple[float, int]:
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=client_loop, args=(port, size, seconds, c, out))
             for c in range(clients)]
    started = time.monotonic()
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    elapsed = time.monotonic() - started
    for p in procs:
        p.join()
    sent = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    return sent / elapsed, failed


def run_case(kind: str, tmp: Path, workers: int, size: int, seconds: float,
             clients: int) -> dict[str, Any]:
    server = Server(kind, tmp, workers)
    try:
        cpu0 = server.cpu_s()
        rate, failed = measure(server.port, size, seconds, clients)
        out: dict[str, Any] = {"rate": rate, "failed": failed}
        if kind == "ours":
            out.update(server.drain())
        out["cpu_s"] = server.cpu_s() - cpu0
        out["acked"] = rate * seconds
        return out
    finally:
        server.stop()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        kind, port = sys.argv[2], int(sys.argv[3])
        if kind == "noop":
            run_noop(port)
        elif kind == "parse":
            run_parse_only(port)
        else:
            run_archive(port, Path(sys.argv[5]), int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", default="8,16", help="client counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sizes", default="64 KiB")
    parser.add_argument("--workers", type=int, default=2,
                        help="ingest worker processes of our server (0: one process)")
    parser.add_argument("--parse", action="store_true", help="also run the parse-only server")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",")]
    client_counts = [int(c) for c in args.clients.split(",")]
    print(f"{args.seconds:.0f} s per case, {args.rounds} round(s) (ABBA), {os.cpu_count()} CPUs, "
          f"our server with {args.workers} ingest worker process(es)")
    print("| size | clients | no-op msg/s | ours, durable msg/s | ratio | no-op CPU ms/msg "
          "| ours CPU ms/msg | 250 to searchable p50 / p99 | drain after load | parse only "
          "msg/s | 4xx |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    kinds = ["noop", "ours", *(["parse"] if args.parse else [])]
    with tempfile.TemporaryDirectory(prefix="bench-smtp-") as tmp:
        for label in sizes:
            size = SIZES[label]
            for clients in client_counts:
                best: dict[str, dict[str, Any]] = {}
                failures = 0
                for round_no in range(args.rounds):
                    order = kinds if round_no % 2 == 0 else kinds[::-1]
                    for kind in order:
                        out = run_case(kind, Path(tmp), args.workers, size, args.seconds,
                                       clients)
                        if kind != "noop":
                            failures += out["failed"]
                        if kind not in best or out["rate"] > best[kind]["rate"]:
                            best[kind] = out
                noop, ours = best["noop"], best["ours"]
                parse = f"{best['parse']['rate']:.0f}" if "parse" in best else "-"
                cpu = {k: 1000 * v["cpu_s"] / max(1.0, v["acked"]) for k, v in best.items()}
                print(f"| {label} | {clients} | {noop['rate']:.0f} | {ours['rate']:.0f} | "
                      f"{ours['rate'] / (noop['rate'] or float('nan')):.0%} | "
                      f"{cpu['noop']:.1f} | {cpu['ours']:.1f} | "
                      f"{ours['p50_s'] * 1000:.0f} ms / {ours['p99_s'] * 1000:.0f} ms | "
                      f"{ours['drain_s']:.1f} s | {parse} | {failures} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
