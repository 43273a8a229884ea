"""The quality team's batch commands, run as subprocesses: a seeded sample drawn twice
agrees, and a policy backfill queues the old e-mail that matches: run to its end in
process, or only asked for (``--no-wait``) and left to a worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path

from archive.config import Role
from archive.quality import monitoring, queue
from archive.quality.reviews import week_of
from archive.users import User
from commarchive import runtime
from commarchive.settings import Settings
from tests.commarchive.cli.test_privacy_commands import cli, data_dir  # noqa: F401
from tests.conftest import email_item
from tests.subjects import A, call_item


def test_sample_and_backfill_from_the_command_line(data_dir: Path) -> None:  # noqa: F811
    week = week_of(datetime.now(UTC))
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        for minute in range(3):
            arc.ingest(call_item(A, started_at=datetime.combine(week, time(0, minute + 1),
                                                                tzinfo=UTC)))
        flagged = arc.ingest(email_item(body="I will cancel my contract")).item_id
        monitoring.save(arc, "churn", {"lists": {"*": ["cancel my contract"]}}, enabled=True,
                        actor="rita", role="quality")
    finally:
        arc.close()
    args = ("quality", "sample", "--week", week.isoformat(), "--per-agent", "2", "--seed", "q1")
    dry = json.loads(cli(*args, "--dry-run", data_dir=data_dir).stdout)
    real = json.loads(cli(*args, data_dir=data_dir).stdout)
    assert dry["picked"] == real["picked"] and [len(v) for v in real["picked"].values()] == [2]
    asked = json.loads(cli("quality", "backfill", "--no-wait", data_dir=data_dir).stdout)
    assert (asked["status"], asked["items_done"]) == ("queued", 0)  # for a worker to run
    got = json.loads(cli("quality", "backfill", data_dir=data_dir).stdout)  # run here
    assert (got["status"], got["items_total"], got["items_done"], got["queued"]) == (
        "done", 4, 4, 1)
    listed = json.loads(cli("quality", "backfills", data_dir=data_dir).stdout)
    assert [(b["id"], b["status"]) for b in listed] == [(got["id"], "done"),
                                                       (asked["id"], "queued")]
    # From now on a new e-mail is checked as it is archived, by any door (here the CLI).
    mail = data_dir.parent / "new.eml"
    mail.write_bytes(email_item(body="Please cancel my contract now").original)
    fresh = cli("ingest", str(mail), data_dir=data_dir).stdout.strip()
    bad = cli("quality", "backfill", "--policy", "nope", data_dir=data_dir, check=False)
    assert bad.returncode == 1 and "policy 'nope' does not exist" in bad.stderr
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        entries = queue.listing(arc, User("rita", Role.QUALITY))
    finally:
        arc.close()
    assert {e["source"] for e in entries} == {"sample", "policy"}
    assert [e["item_id"] for e in entries if e["source"] == "policy"] == [flagged, fresh]
