"""Request cases: intake to closing, deadlines on a moved clock, the export from a review."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive import rights
from archive.config import load_config
from archive.errors import ConfigError, ErrorCode, InvalidRequest
from archive.rights.case_tables import case_items, cases
from archive.rights.datasheet import data_sheet
from archive.service import Archive
from tests.conftest import email_item
from tests.subjects import T0, A, Mixed

RECEIVED = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def _open(arc: Archive, *, received: datetime = RECEIVED, kind: str = "access") -> int:
    case = rights.open_case(arc, kind=kind, identifiers=[A.email, A.phone], channel="email",
                            requester="Anna de Vries", actor="dpo-1", received_at=received,
                            note="asked for everything since 2025", now=received)
    return int(case["id"])


def test_deadline_is_one_calendar_month_then_overdue(parch: Archive) -> None:
    case_id = _open(parch)
    case = rights.get_case(parch, case_id, now=RECEIVED)
    assert case["due_at"] == "2026-02-28T09:00:00+00:00"  # 31 Jan + one month
    assert not case["overdue"]
    week_before = datetime(2026, 2, 23, tzinfo=UTC)
    digest = rights.digest(parch, now=week_before)
    assert [c["id"] for c in digest["due_soon"]] == [case_id] and digest["overdue"] == []
    assert rights.digest(parch, now=datetime(2026, 2, 1, tzinfo=UTC))["due_soon"] == []

    late = datetime(2026, 3, 1, tzinfo=UTC)
    [listed] = rights.list_cases(parch, now=late)
    assert listed["overdue"] and listed["days_left"] < 0
    digest = rights.digest(parch, now=late)
    assert [c["id"] for c in digest["overdue"]] == [case_id]
    assert f"OVERDUE case {case_id} (access) due 2026-02-28" in rights.digest_text(digest)
    # Too late to extend: the person had to be told within the first month.
    with pytest.raises(InvalidRequest, match="past its first month") as exc:
        rights.extend_deadline(parch, case_id, reason="many items", actor="dpo-1", now=late)
    assert exc.value.code is ErrorCode.CONFLICT


def test_extension_by_two_months_needs_a_reason_and_happens_once(parch: Archive) -> None:
    case_id = _open(parch)
    during = datetime(2026, 2, 20, tzinfo=UTC)
    with pytest.raises(InvalidRequest, match="needs a reason"):
        rights.extend_deadline(parch, case_id, reason="  ", actor="dpo-1", now=during)
    case = rights.extend_deadline(parch, case_id, reason="1,200 calls to review",
                                  actor="dpo-1", now=during)
    assert case["due_at"] == "2026-04-28T09:00:00+00:00"
    assert case["original_due_at"] == "2026-02-28T09:00:00+00:00"
    assert case["extension"]["reason"] == "1,200 calls to review"
    assert case["extension"]["by"] == "dpo-1"
    assert not rights.list_cases(parch, now=datetime(2026, 3, 15, tzinfo=UTC))[0]["overdue"]
    assert rights.list_cases(parch, now=datetime(2026, 4, 29, tzinfo=UTC))[0]["overdue"]
    with pytest.raises(InvalidRequest, match="extended already"):
        rights.extend_deadline(parch, case_id, reason="again", actor="dpo-1", now=during)
    [event] = parch.audit.events(action="case_extended")
    assert event.detail["case_id"] == case_id and event.subject == A.email


def test_access_case_from_intake_to_closing(mixed: Mixed) -> None:
    arc = mixed.archive
    neighbour = arc.ingest(email_item(
        subject="Noise", body="My neighbour Piet Peters (piet@peters.nl) plays drums at night.",
        customer=A.email, started_at=T0 + timedelta(days=5))).item_id
    case_id = _open(arc, received=datetime.now(UTC) - timedelta(days=2))

    with pytest.raises(InvalidRequest, match="verify the person's identity"):
        rights.lookup_case(arc, case_id, actor="dpo-1")
    rights.verify_identity(arc, case_id, method="known_contact", actor="dpo-1",
                           note="replied from the address on record")
    case = rights.lookup_case(arc, case_id, actor="dpo-1")
    found = {i["item_id"] for i in case["items"]}
    assert neighbour in found and mixed.a_order in found
    assert all(i["decision"] is None for i in case["items"])
    assert case["stage"] == "review" == rights.list_cases(arc)[0]["stage"]

    excluded = mixed.items[A.email][0]
    rights.review_item(arc, case_id, excluded, decision="exclude", actor="dpo-1",
                       reason="duplicate of the order mail")
    with pytest.raises(InvalidRequest, match=f"item {neighbour}: name the third party"):
        rights.review_item(arc, case_id, neighbour, decision="redact", actor="dpo-1",
                           reason="neighbour")
    rights.review_item(arc, case_id, neighbour, decision="redact", actor="dpo-1",
                       reason="names a neighbour", redact=["Piet Peters", "piet@peters.nl"])
    with pytest.raises(InvalidRequest, match="await a decision") as exc:
        rights.export_case(arc, case_id, actor="dpo-1")
    assert exc.value.code is ErrorCode.CONFLICT
    for item_id in found - {excluded, neighbour}:
        rights.review_item(arc, case_id, item_id, decision="include", actor="dpo-1")

    plan = rights.export_case(arc, case_id, actor="dpo-1")
    zf = zipfile.ZipFile(io.BytesIO(b"".join(plan.chunks)))
    index = json.loads(zf.read("index.json"))
    assert {i["id"] for i in index["items"]} == found - {excluded}
    assert not any(excluded in n for n in zf.namelist())
    assert index["case_id"] == case_id
    entry = next(i for i in index["items"] if i["id"] == neighbour)
    assert entry["redacted"] and entry["redacted_for"] == "third_party"
    assert entry["files"] == [f"items/{neighbour}/redacted.txt"]
    text = zf.read(f"items/{neighbour}/redacted.txt").decode()
    assert "[THIRD PARTY]" in text and "drums at night" in text
    blob = b"".join(zf.read(n) for n in zf.namelist())
    assert b"Piet" not in blob and b"piet@peters.nl" not in blob
    letter = zf.read("cover_letter.txt").decode()
    for needed in ("Autoriteit Persoonsgegevens", "legitimate interest", "Recipients",
                   "Source", f"(case {case_id})"):
        assert needed in letter, needed
    assert index["data_sheet"]["supervisory_authority"].startswith("Autoriteit")

    assert rights.get_case(arc, case_id)["stage"] == "reply"
    with pytest.raises(InvalidRequest, match="no reply recorded"):
        rights.close_case(arc, case_id, outcome="done", actor="dpo-1")
    rights.record_reply(arc, case_id, text="Dear Ms de Vries, enclosed your data.",
                        actor="dpo-1")
    closed = rights.close_case(arc, case_id, outcome="done", actor="dpo-1")
    assert closed["status"] == "closed" and closed["stage"] == "closed"
    steps = [e["step"] for e in closed["events"]]
    assert steps[:3] == ["opened", "verified", "looked_up"]
    assert steps[-3:] == ["action", "replied", "closed"]
    action = next(e for e in closed["events"] if e["step"] == "action")
    assert action["action"] == "export" and action["detail"]["exclude"] == 1
    audited = [e for e in arc.audit.events(subject=A.email) if e.action.startswith("case_")]
    assert len(audited) == len(closed["events"])
    assert all(e.detail["case_id"] == case_id for e in audited)
    export_event = arc.audit.events(action="export")[-1]
    assert export_event.detail["case_id"] == case_id and excluded not in export_event.item_ids
    with pytest.raises(InvalidRequest, match="is closed"):
        rights.record_case_action(arc, case_id, action="erasure", actor="dpo-1")


def test_what_names_people_is_sealed_in_the_catalog(mixed: Mixed) -> None:
    arc = mixed.archive
    case_id = _open(arc, received=datetime.now(UTC))
    rights.verify_identity(arc, case_id, method="id_document", actor="dpo-1",
                           note="passport seen, Anna de Vries")
    rights.lookup_case(arc, case_id, actor="dpo-1")
    item_id = mixed.items[A.email][1]
    rights.review_item(arc, case_id, item_id, decision="redact", actor="dpo-1",
                       reason="mentions Kees Smit", redact=["Kees Smit"])
    with arc.catalog.read() as conn:
        row = conn.execute(sa.select(cases)).one()
        review = conn.execute(sa.select(case_items.c.sealed)
                              .where(case_items.c.item_id == item_id)).scalar_one()
    assert b"Anna" not in row.sealed and b"passport" not in row.sealed
    assert b"Kees" not in review
    case = rights.get_case(arc, case_id)
    assert case["requester"] == "Anna de Vries"
    assert case["verification"]["note"] == "passport seen, Anna de Vries"
    assert next(i for i in case["items"] if i["item_id"] == item_id)["redact"] == ["Kees Smit"]


def test_bad_intake_is_refused_by_name(parch: Archive) -> None:
    with pytest.raises(InvalidRequest, match="unknown request kind 'forget'"):
        rights.open_case(parch, kind="forget", identifiers=[A.email], channel="email",
                         requester="Anna", actor="dpo-1")
    with pytest.raises(InvalidRequest, match="'Anna' is not a data-subject identifier"):
        rights.open_case(parch, kind="access", identifiers=["Anna"], channel="email",
                         requester="Anna", actor="dpo-1")
    with pytest.raises(InvalidRequest, match="unknown channel 'pigeon'"):
        rights.open_case(parch, kind="access", identifiers=[A.email], channel="pigeon",
                         requester="Anna", actor="dpo-1")
    with pytest.raises(InvalidRequest, match="in the future"):
        rights.open_case(parch, kind="access", identifiers=[A.email], channel="email",
                         requester="Anna", actor="dpo-1",
                         received_at=datetime.now(UTC) + timedelta(days=2))
    with pytest.raises(InvalidRequest, match="no case 99") as exc:
        rights.get_case(parch, 99)
    assert exc.value.code is ErrorCode.NOT_FOUND


def test_an_approval_can_append_an_action_to_an_open_case(parch: Archive) -> None:
    case_id = _open(parch, received=datetime.now(UTC), kind="erasure")
    seq = rights.record_case_action(parch, case_id, action="erasure", actor="dpo-2",
                                    detail={"approval_id": 7, "erased": 3})
    [event] = [e for e in rights.get_case(parch, case_id)["events"] if e["step"] == "action"]
    assert event["audit_seq"] == seq and event["detail"] == {
        "case_id": case_id, "approval_id": 7, "erased": 3}


def test_cover_letter_values_come_from_archive_toml(tmp_path: Path) -> None:
    (tmp_path / "archive.toml").write_text(
        'organisation = "Hosting BV"\n[privacy_office]\ncontact = "dpo@hosting.nl"\n'
        'supervisory_authority = "Gegevensbeschermingsautoriteit, Brussel"\n')
    sheet = data_sheet(load_config(tmp_path))
    assert sheet["controller"] == "Hosting BV" and sheet["contact"] == "dpo@hosting.nl"
    assert sheet["supervisory_authority"] == "Gegevensbeschermingsautoriteit, Brussel"
    (tmp_path / "archive.toml").write_text('[privacy_office]\nfax = "1"\n')
    with pytest.raises(ConfigError, match="fax"):
        load_config(tmp_path)
