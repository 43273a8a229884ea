"""Where the CPU of one durable e-mail goes, stage by stage, next to the floor of MIME parsing.

    python bench/bench_ingest_stages.py [--messages 400] [--group 8] [--sizes "4 KiB,64 KiB"]

One process, no SMTP and no worker processes: the same calls the SMTP server makes for a
message, on a fresh archive as ``commarchive init`` makes it (local store, SQLite catalog,
SQLite FTS5 index), in groups as the group committer forms them. Per stage, the process's
user+system CPU per message (``getrusage``, so the kernel's share of ``fsync`` counts):

- **parse**: ``build_item`` (MIME parse under its time limit, parties, sections);
- **prepare**: language detection, sealing the parts, writing and fsyncing the blobs and
  their directories;
- **commit**: the group's catalog rows and audit events, one transaction (WAL fsync);
- **finish**: the index document (with the trainer's redacted copy) and the index write,
  which ``serve`` does in the background after the ``250``.

The baseline in the same run is the standard library alone: ``email`` parsing the same
bytes with the default policy, the least any server that reads the message must spend.
The SMTP bench's no-op aiosmtpd spends about 0.7 ms (4 KiB) and 2.2 ms (64 KiB) per message
on the whole exchange, so "durable at half its rate" on a CPU-bound machine would mean all
of ours under 1.4 / 4.4 ms.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import resource
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

sys.path.insert(0, str(REPO_ROOT / "bench"))
from bench_smtp import SIZES, make_message  # noqa: E402

from commarchive import runtime  # noqa: E402
from commarchive.settings import Settings  # noqa: E402
from ingest.email.item import Envelope, build_item  # noqa: E402

STAGES = ("parse", "prepare", "commit", "finish")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stdlib_parse_ms(raws: list[bytes]) -> float:
    start = cpu_s()
    for raw in raws:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        for part in message.walk():
            if not part.is_multipart():
                part.get_content()
    return (cpu_s() - start) / len(raws) * 1000


def stages_ms(size: int, messages: int, group: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = dict(os.environ, XDG_CONFIG_HOME=str(root / "config"))
        os.environ["XDG_CONFIG_HOME"] = env["XDG_CONFIG_HOME"]
        subprocess.run([sys.executable, "-m", "commarchive", "init", str(root / "data"),
                        "--no-input"], env=env, check=True, capture_output=True)
        archive = runtime.open_archive(Settings(data_dir=root / "data"))
        try:
            raws = [make_message(size, 1, i) for i in range(messages)]
            spent = dict.fromkeys(STAGES, 0.0)
            for start in range(0, messages, group):
                envelope = Envelope(mail_from="customer1@customer.nl",
                                    rcpt_tos=("support@example.com", "journal@example.com"),
                                    received_at=datetime.now(UTC), smtputf8=False,
                                    body_8bitmime=False)
                t0 = cpu_s()
                items = [build_item(raw, envelope, is_internal=archive.is_internal_address,
                                    source="bench") for raw in raws[start:start + group]]
                t1 = cpu_s()
                prepared = [archive.prepare(item) for item in items]
                t2 = cpu_s()
                done = archive.commit_group(prepared)
                t3 = cpu_s()
                archive.finish_group(done)
                archive.flush_index()
                t4 = cpu_s()
                for stage, (a, b) in zip(STAGES, ((t0, t1), (t1, t2), (t2, t3), (t3, t4)),
                                         strict=True):
                    spent[stage] += b - a
            return {stage: seconds / messages * 1000 for stage, seconds in spent.items()}
        finally:
            archive.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--sizes", default="4 KiB,64 KiB")
    args = parser.parse_args()
    print(f"CPU ms per message ({args.messages} messages, groups of {args.group}, "
          f"load average {os.getloadavg()[0]:.1f})")
    print("| size | stdlib parse (baseline) | parse | prepare | commit | finish (index) "
          "| before the 250 | total |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.sizes.split(","):
        size = SIZES[name.strip()]
        raws = [make_message(size, 1, i) for i in range(args.messages)]
        floor = stdlib_parse_ms(raws)
        ms = stages_ms(size, args.messages, args.group)
        before_ack = ms["parse"] + ms["prepare"] + ms["commit"]
        print(f"| {name.strip()} | {floor:.2f} | {ms['parse']:.2f} | {ms['prepare']:.2f} | "
              f"{ms['commit']:.2f} | {ms['finish']:.2f} | {before_ack:.2f} | "
              f"{before_ack + ms['finish']:.2f} |")


if __name__ == "__main__":
    main()
