"""Closed request cases keep the person's data for the configured time, then only the facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive import rights
from archive.config import CONFIG_FILE_NAME, load_config
from archive.errors import ConfigError
from archive.retention import sweep
from archive.rights import case_retention
from archive.rights.case_tables import case_items, cases
from archive.service import Archive
from tests.subjects import A, B, Mixed


def _closed_case(arc: Archive, identifiers: list[str], *, closed: datetime,
                 requester: str) -> int:
    received = closed - timedelta(days=10)
    case_id = int(rights.open_case(arc, kind="access", identifiers=identifiers, channel="email",
                                   requester=requester, actor="dpo-1", received_at=received,
                                   note=f"{requester} wants a copy", now=received)["id"])
    rights.verify_identity(arc, case_id, method="known_contact", actor="dpo-1",
                           note=f"{requester} replied from the address on record",
                           verified_at=received)
    case = rights.lookup_case(arc, case_id, actor="dpo-1", now=received)
    for item in case["items"]:
        rights.review_item(arc, case_id, item["item_id"], decision="include", actor="dpo-1",
                           now=received)
    rights.record_reply(arc, case_id, text=f"Dear {requester}, enclosed your data.",
                        actor="dpo-1", now=closed)
    rights.close_case(arc, case_id, outcome="done", actor="dpo-1", now=closed)
    return case_id


def test_a_closed_case_past_its_retention_keeps_only_its_facts(mixed: Mixed) -> None:
    arc = mixed.archive
    case_retention.install(arc)
    retention = arc.config.privacy_office.closed_case_retention_days
    closed = datetime(2026, 3, 1, tzinfo=UTC)
    old = _closed_case(arc, [A.email], closed=closed, requester="Anna de Vries")
    recent = _closed_case(arc, [B.email], closed=closed + timedelta(days=60),
                          requester="Bram Jansen")
    still_open = int(rights.open_case(
        arc, kind="erasure", identifiers=[A.phone], channel="letter", requester="Anna",
        actor="dpo-1", received_at=closed - timedelta(days=400),
        now=closed - timedelta(days=400))["id"])
    reviewed = len(rights.get_case(arc, old)["items"])
    assert reviewed > 0
    after = closed + timedelta(days=retention, hours=1)

    dry = sweep(arc, now=after, dry_run=True)
    assert {"source": case_retention.SOURCE, "purged": [old]} in dry.outside
    assert rights.get_case(arc, old, now=after)["requester"] == "Anna de Vries"

    report = sweep(arc, now=after)
    assert {"source": case_retention.SOURCE, "purged": [old]} in report.outside
    case = rights.get_case(arc, old, now=after)
    assert case["identifiers"] == [] and case["requester"] == ""
    assert case["reply"] is not None and case["reply"]["text"] is None
    assert case["verification"] is not None and case["verification"]["note"] is None
    assert case["items"] == [] and case["items_reviewed"] == reviewed
    assert case["expired_at"] == after.isoformat()
    # The facts that prove the request was answered, and in time, stay.
    assert (case["kind"], case["status"], case["outcome"]) == ("access", "closed", "done")
    assert case["verification"]["by"] == "dpo-1" and case["reply"]["by"] == "dpo-1"
    assert [e["step"] for e in case["events"]][-2:] == ["replied", "closed"]
    with arc.catalog.read() as conn:
        row = conn.execute(sa.select(cases).where(cases.c.id == old)).one()
        assert b"Anna" not in row.sealed and A.email not in row.identifiers
        assert conn.execute(sa.select(sa.func.count()).select_from(case_items)
                            .where(case_items.c.case_id == old)).scalar() == 0
    [event] = arc.audit.events(action="cases_expired")
    assert event.detail["cases"] == [old] and event.subject is None

    # The younger closed case and the (very old) open one are as they were.
    assert rights.get_case(arc, recent, now=after)["requester"] == "Bram Jansen"
    assert rights.get_case(arc, still_open, now=after)["identifiers"] == [A.phone]
    # A second sweep finds nothing more to do, and the audit chain holds.
    assert {"source": case_retention.SOURCE, "purged": []} in sweep(arc, now=after).outside
    assert arc.audit.verify().ok


def test_retention_of_closed_cases_is_configurable_and_has_a_floor(tmp_path: Path) -> None:
    toml = tmp_path / CONFIG_FILE_NAME
    assert load_config(tmp_path).privacy_office.closed_case_retention_days == 1095
    toml.write_text("[privacy_office]\nclosed_case_retention_days = 730\n")
    assert load_config(tmp_path).privacy_office.closed_case_retention_days == 730
    toml.write_text("[privacy_office]\nclosed_case_retention_days = 3\n")
    with pytest.raises(ConfigError, match="closed_case_retention_days"):
        load_config(tmp_path)
