"""The CPU an enabled monitoring policy adds before the SMTP ``250``, per e-mail, next to no policy.

    python bench/bench_monitor.py [--messages 400] [--group 8] [--sizes "4 KiB,64 KiB"]

One process, no SMTP: per group the calls the SMTP server makes before it answers
(``build_item``, ``prepare``, ``commit_group``, ``finish_group``) on a fresh
``commarchive init`` archive with the index outbox running, as ``serve`` runs it. CPU is
the calling thread's user+system time (``RUSAGE_THREAD``, so the outbox's indexing
thread is not counted; the kernel's share of ``fsync`` is). Three variants, each on its
own archive, in the same run:

- **no policy** (the baseline);
- **policy, job**: a policy is enabled, so each e-mail's commit also queues a ``monitor``
  job; the job's cost is measured separately, after the 250 (``run_queued``, the work
  the embedded worker or ``commarchive worker`` does);
- **policy, before the 250**: the previous design, same run: the policies run in the
  finish step (``check_item`` with the parsed sections, one audited write per e-mail).

The policy is a realistic lexicon that does not hit the bench's text (most mail is not
flagged, and the evaluation costs the same either way).
"""

from __future__ import annotations

import argparse
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

from archive.quality import monitoring  # noqa: E402
from commarchive import runtime  # noqa: E402
from commarchive.settings import Settings  # noqa: E402
from ingest.email.item import Envelope, build_item  # noqa: E402

VARIANTS = ("no policy", "policy, job", "policy, before the 250")
POLICY = {
    "lists": {"*": ["cancel my contract", "cancel my subscription", "terminate the contract",
                    "lawyer", "ombudsman", "consumer authority", "chargeback",
                    "formal complaint", "data breach", "press"],
              "nl": ["opzeggen", "abonnement opzeggen", "advocaat", "klacht indienen",
                     "geschillencommissie"]},
    "near": [{"a": "cancel", "b": "subscription", "within": 5},
             {"a": "lawyer", "b": "court", "within": 8}],
}


def thread_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


def measure(size: int, messages: int, group: int, variant: str) -> tuple[float, float]:
    """CPU ms per message: (before the 250, the monitor job after it)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = dict(os.environ, XDG_CONFIG_HOME=str(root / "config"))
        os.environ["XDG_CONFIG_HOME"] = env["XDG_CONFIG_HOME"]
        subprocess.run([sys.executable, "-m", "commarchive", "init", str(root / "data"),
                        "--no-input"], env=env, check=True, capture_output=True)
        archive = runtime.open_archive(Settings(data_dir=root / "data"))
        try:
            if variant != VARIANTS[0]:
                monitoring.save(archive, "churn", POLICY, enabled=True, actor="bench",
                                role="quality")
            inline = variant == VARIANTS[2]
            if inline:  # as before: no job, the policies in the finish step
                archive.intake.committing.clear()
                archive.transcripts.committing.clear()
            archive.start_indexing()
            raws = [make_message(size, 1, i) for i in range(messages)]
            before = 0.0
            for start in range(0, messages, group):
                envelope = Envelope(mail_from="customer1@customer.nl",
                                    rcpt_tos=("support@example.com", "journal@example.com"),
                                    received_at=datetime.now(UTC), smtputf8=False,
                                    body_8bitmime=False)
                t0 = thread_cpu_s()
                items = [build_item(raw, envelope, is_internal=archive.is_internal_address,
                                    source="bench") for raw in raws[start:start + group]]
                done = archive.commit_group([archive.prepare(item) for item in items])
                results = archive.finish_group(done)
                if inline:
                    for item, result in zip(items, results, strict=True):
                        assert not isinstance(result, Exception), result
                        monitoring.check_item(archive, result.item_id, sections=item.sections)
                before += thread_cpu_s() - t0
            archive.flush_index(None)
            t1 = thread_cpu_s()
            ran = monitoring.run_queued(archive, worker="bench")
            after = thread_cpu_s() - t1
            assert ran == (messages if variant == VARIANTS[1] else 0), ran
            return before / messages * 1000, after / messages * 1000
        finally:
            archive.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--sizes", default="4 KiB,64 KiB")
    args = parser.parse_args()
    print(f"CPU ms per e-mail ({args.messages} messages, groups of {args.group}, "
          f"load average {os.getloadavg()[0]:.1f})")
    print("| size | variant | before the 250 | monitor job after the 250 |")
    print("|---|---|---|---|")
    for name in args.sizes.split(","):
        for variant in VARIANTS:
            before, after = measure(SIZES[name.strip()], args.messages, args.group, variant)
            print(f"| {name.strip()} | {variant} | {before:.2f} | {after:.2f} |", flush=True)


if __name__ == "__main__":
    main()
