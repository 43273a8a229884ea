"""The CLI runs destructive actions at once, without a second person: the documented
break-glass path, which the audit trail marks with the command and the OS user."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from commarchive import runtime
from commarchive.settings import Settings
from tests.commarchive.cli.test_privacy_commands import ANNA, BOB, _seed, cli, data_dir

__all__ = ["data_dir"]  # the fixture, shared


def _break_glass_events(data_dir: Path) -> list[dict[str, object]]:
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        return [{"actor": e.actor, "role": e.role, **e.detail}
                for e in arc.audit.events(action="break_glass", limit=100)]
    finally:
        arc.close()


def test_destructive_commands_run_at_once_and_are_audited_as_break_glass(
    data_dir: Path,
) -> None:
    items = _seed(data_dir)
    dry = json.loads(cli("subjects", "erase", ANNA, "--dry-run", data_dir=data_dir).stdout)
    assert dry["dry_run"] is True
    assert _break_glass_events(data_dir) == [], "a dry run changes nothing: no break-glass"
    cert = json.loads(cli("subjects", "erase", ANNA, data_dir=data_dir).stdout)
    assert {e["item_id"] for e in cert["erased"]} == set(items[ANNA])
    cli("subjects", "restrict", BOB, "--reason", "contested", data_dir=data_dir)
    cli("subjects", "unrestrict", BOB, "--note", "told by phone", data_dir=data_dir)
    cli("subjects", "object", BOB, "--purpose", "training", data_dir=data_dir)
    hold = json.loads(cli("holds", "place", "--item", items[BOB][0], "--reason", "claim",
                          "--case", "K-1", data_dir=data_dir).stdout)
    cli("holds", "lift", str(hold["id"]), "--note", "settled", data_dir=data_dir)
    cli("keys", "rotate", "training", data_dir=data_dir)
    cli("keys", "retire", "training", "1", data_dir=data_dir)
    events = _break_glass_events(data_dir)
    assert sorted(str(e["command"]) for e in events) == [
        "holds lift", "keys retire", "subjects erase", "subjects object",
        "subjects unrestrict"]
    me = getpass.getuser()
    for event in events:
        assert event["actor"] in ("dpo", "cli") and event["two_person_control"] == "skipped"
        assert me in str(event["os_user"])
