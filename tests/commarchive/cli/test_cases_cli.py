"""``commarchive cases digest``: what a daily timer prints, on a moved clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from archive import rights
from commarchive import runtime
from commarchive.settings import Settings
from tests.commarchive.cli.test_privacy_commands import cli, data_dir

__all__ = ["data_dir"]  # the fixture, shared


def test_digest_lists_overdue_then_due_soon_and_extension(data_dir: Path) -> None:
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        overdue = rights.open_case(
            arc, kind="erasure", identifiers=["anna@customer.nl"], channel="letter",
            requester="Anna", actor="dpo", received_at=datetime(2026, 1, 5, tzinfo=UTC))["id"]
        soon = rights.open_case(
            arc, kind="access", identifiers=["+31612345678"], channel="phone",
            requester="Bob", actor="dpo", received_at=datetime(2026, 1, 20, tzinfo=UTC))["id"]
        later = rights.open_case(
            arc, kind="portability", identifiers=["K-1001"], channel="web_form",
            requester="Carla", actor="dpo", received_at=datetime(2026, 1, 25, tzinfo=UTC))["id"]
        rights.extend_deadline(arc, later, reason="large archive", actor="dpo",
                               now=datetime(2026, 2, 1, tzinfo=UTC))
    finally:
        arc.close()

    out = cli("cases", "digest", "--now", "2026-02-15T08:00:00+00:00",
              data_dir=data_dir).stdout
    lines = out.splitlines()
    assert lines[0].endswith("3 open, 1 overdue, 1 due within 7 days"), lines[0]
    assert lines[1] == (f"  OVERDUE case {overdue} (erasure) due 2026-02-05: "
                        "next step verify identity")
    assert lines[2].startswith(f"  due case {soon} (access) due 2026-02-20")
    assert len(lines) == 3  # the extended case is due in April

    report = json.loads(cli("cases", "digest", "--json", "--days", "90", "--now",
                            "2026-02-15T08:00:00+00:00", data_dir=data_dir).stdout)
    assert [c["id"] for c in report["due_soon"]] == [soon, later]
    assert report["due_soon"][1]["extended"] is True
    bad = cli("cases", "digest", "--now", "yesterday", data_dir=data_dir, check=False)
    assert bad.returncode != 0 and "yesterday" in bad.stderr
