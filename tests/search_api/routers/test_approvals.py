"""Two-person control through the HTTP API: every destructive or widening action is
proposed with its dry run (``202``), runs only when a different user of its role
approves, can be rejected, and expires."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

import archive.approvals.core as approvals_core
from archive import holds, keyadmin, rights
from archive.config import Role
from archive.model import now_utc
from archive.service import Archive
from search_api.app import create_app
from tests.conftest import email_item
from tests.search_api.conftest import assert_error
from tests.subjects import B, C, Mixed


@dataclass
class Officers:
    """Two users of each deciding role: ``first`` proposes, ``second`` approves."""

    first: dict[str, dict[str, str]]
    second: dict[str, dict[str, str]]


@pytest.fixture
def client(mixed: Mixed) -> Iterator[TestClient]:
    with TestClient(create_app(mixed.archive)) as c:
        yield c


@pytest.fixture
def officers(parch: Archive) -> Officers:
    def tokens(suffix: str) -> dict[str, dict[str, str]]:
        return {r.value: {"Authorization": f"Bearer {parch.users.add(r.value + suffix, r)}"}
                for r in Role}
    return Officers(tokens("-one"), tokens("-two"))


def _status(client: TestClient, item_id: str, headers: dict[str, str]) -> int:
    return client.get(f"/api/v1/items/{item_id}", headers=headers).status_code


# -- per action: how to propose it, and what shows it ran ----------------------------------------


@dataclass(frozen=True)
class Case:
    role: str
    propose: Callable[[TestClient, Mixed, dict[str, str]], Any]
    ran: Callable[[TestClient, Mixed, Officers], bool]


def _propose_erase(client: TestClient, mixed: Mixed, h: dict[str, str]) -> Any:
    return client.post(f"/api/v1/subjects/{C.email}/erase", json={"also": [C.phone]}, headers=h)


def _erased(client: TestClient, mixed: Mixed, o: Officers) -> bool:
    return _status(client, mixed.items[C.email][1], o.first["privacy"]) == 410


def _propose_object(client: TestClient, mixed: Mixed, h: dict[str, str]) -> Any:
    return client.post(f"/api/v1/subjects/{B.email}/object", json={"purposes": ["training"]},
                       headers=h)


def _objected(client: TestClient, mixed: Mixed, o: Officers) -> bool:
    return "training" not in mixed.archive.record(mixed.items[B.email][0]).purpose_names


def _propose_unrestrict(client: TestClient, mixed: Mixed, h: dict[str, str]) -> Any:
    rights.restrict_subject(mixed.archive, B.email, actor="dpo", reason="contested")
    return client.post(f"/api/v1/subjects/{B.email}/unrestrict", json={"note": "told by mail"},
                       headers=h)


def _unrestricted(client: TestClient, mixed: Mixed, o: Officers) -> bool:
    return _status(client, mixed.items[B.email][0], o.first["quality"]) == 200


def _propose_lift(client: TestClient, mixed: Mixed, h: dict[str, str]) -> Any:
    hold = holds.place_hold(mixed.archive, actor="legal-one", reason="claim", case_ref="K-1",
                            item_ids=[mixed.a_order])
    return client.post(f"/api/v1/holds/{hold.id}/lift", json={"note": "settled"}, headers=h)


def _lifted(client: TestClient, mixed: Mixed, o: Officers) -> bool:
    return not any(h.active for h in holds.list_holds(mixed.archive, active_only=False))


def _propose_retire(client: TestClient, mixed: Mixed, h: dict[str, str]) -> Any:
    mixed.archive.rotate_key("training", actor="admin-one")
    return client.post("/api/v1/admin/keys/training/versions/1/retire", json={}, headers=h)


def _retired(client: TestClient, mixed: Mixed, o: Officers) -> bool:
    return mixed.archive.keyring.versions("training") == [2]


CASES = {
    "erase": Case("privacy", _propose_erase, _erased),
    "object": Case("privacy", _propose_object, _objected),
    "unrestrict": Case("privacy", _propose_unrestrict, _unrestricted),
    "lift_hold": Case("legal", _propose_lift, _lifted),
    "retire_key": Case("admin", _propose_retire, _retired),
}
OTHER_ROLE = {"privacy": "legal", "legal": "privacy", "admin": "privacy"}


@pytest.mark.parametrize("action", sorted(CASES))
def test_a_second_person_of_the_role_approves_and_only_then_it_runs(
    client: TestClient, mixed: Mixed, officers: Officers, action: str,
) -> None:
    case = CASES[action]
    resp = case.propose(client, mixed, officers.first[case.role])
    assert resp.status_code == 202, resp.text
    proposal = resp.json()
    assert proposal["action"] == action and proposal["status"] == "pending"
    assert proposal["dry_run"], "the approver decides on a dry run"
    assert not case.ran(client, mixed, officers), "nothing runs on a proposal"
    url = f"/api/v1/approvals/{proposal['approval_id']}"
    # GIVEN the proposer, WHEN they approve their own proposal, THEN 403 own_proposal.
    assert_error(client.post(f"{url}/approve", headers=officers.first[case.role]), 403,
                 "own_proposal")
    # A user of another role may not decide it (nor see it).
    assert_error(client.post(f"{url}/approve", headers=officers.second[OTHER_ROLE[case.role]]),
                 403, "wrong_role")
    assert not case.ran(client, mixed, officers)
    done = client.post(f"{url}/approve", json={"note": "checked"},
                       headers=officers.second[case.role])
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "executed" and body["decided_by"] == f"{case.role}-two"
    assert body["result"] and body["drift"] is None
    assert case.ran(client, mixed, officers)
    assert_error(client.post(f"{url}/approve", headers=officers.second[case.role]), 409,
                 "approval_closed")
    actions = [e.action for e in mixed.archive.audit.events(limit=1000)
               if e.detail.get("approval_id") == proposal["approval_id"]]
    assert actions == ["approval_propose", "approval_approve", "approval_execute"]


@pytest.mark.parametrize("action", sorted(CASES))
def test_a_rejected_proposal_never_runs(
    client: TestClient, mixed: Mixed, officers: Officers, action: str,
) -> None:
    case = CASES[action]
    approval_id = case.propose(client, mixed, officers.first[case.role]).json()["approval_id"]
    url = f"/api/v1/approvals/{approval_id}"
    rejected = client.post(f"{url}/reject", json={"note": "wrong person"},
                           headers=officers.second[case.role])
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert_error(client.post(f"{url}/approve", headers=officers.second[case.role]), 409,
                 "approval_closed")
    assert not case.ran(client, mixed, officers)
    assert "approval_reject" in [e.action for e in mixed.archive.audit.events(limit=1000)]


@pytest.mark.parametrize("action", sorted(CASES))
def test_a_proposal_expires_when_nobody_approves_it_in_time(
    client: TestClient, mixed: Mixed, officers: Officers, action: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[action]
    approval_id = case.propose(client, mixed, officers.first[case.role]).json()["approval_id"]
    later = now_utc() + timedelta(hours=73)  # the default expiry is 72 hours
    monkeypatch.setattr(approvals_core, "now_utc", lambda: later)
    url = f"/api/v1/approvals/{approval_id}"
    error = assert_error(client.post(f"{url}/approve", headers=officers.second[case.role]),
                         410, "approval_expired")
    assert "propose it again" in str(error["message"])
    assert client.get(url, headers=officers.second[case.role]).json()["status"] == "expired"
    assert not case.ran(client, mixed, officers)
    assert "approval_expire" in [e.action for e in mixed.archive.audit.events(limit=1000)]


def test_the_expiry_is_configurable(mixed: Mixed, officers: Officers,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app(mixed.archive, approval_expiry_hours=1)) as client:
        approval_id = _propose_erase(client, mixed, officers.first["privacy"]).json()[
            "approval_id"]
        later = now_utc() + timedelta(hours=2)
        monkeypatch.setattr(approvals_core, "now_utc", lambda: later)
        assert_error(client.post(f"/api/v1/approvals/{approval_id}/approve",
                                 headers=officers.second["privacy"]), 410, "approval_expired")


def test_the_erasure_proposal_shows_the_dry_run_and_approving_returns_the_certificate(
    client: TestClient, mixed: Mixed, officers: Officers,
) -> None:
    dry = client.post(f"/api/v1/subjects/{C.email}/erase", json={"dry_run": True},
                      headers=officers.first["privacy"]).json()
    proposal = client.post(f"/api/v1/subjects/{C.email}/erase", json={},
                           headers=officers.first["privacy"]).json()
    assert {e["item_id"] for e in proposal["dry_run"]["erased"]} == {
        e["item_id"] for e in dry["erased"]}
    assert proposal["dry_run"]["dry_run"] is True
    cert = client.post(f"/api/v1/approvals/{proposal['approval_id']}/approve",
                       headers=officers.second["privacy"]).json()["result"]
    assert cert["dry_run"] is False and cert["issued_by"] == "privacy-two"
    assert {e["item_id"] for e in cert["erased"]} == {e["item_id"] for e in dry["erased"]}


def test_what_changed_between_proposal_and_approval_is_recorded(
    client: TestClient, mixed: Mixed, officers: Officers,
) -> None:
    proposal = _propose_erase(client, mixed, officers.first["privacy"]).json()
    late = mixed.archive.ingest(email_item(customer=C.email, body="one more")).item_id
    done = client.post(f"/api/v1/approvals/{proposal['approval_id']}/approve",
                       headers=officers.second["privacy"]).json()
    assert late not in done["drift"]["approved"]["erased"]
    assert late in done["drift"]["at_execution"]["erased"]
    execute = [e for e in mixed.archive.audit.events(action="approval_execute", limit=10)]
    assert execute[0].detail["drift"] == done["drift"]


def test_approvals_are_listed_by_status_action_and_case_for_their_role_only(
    client: TestClient, mixed: Mixed, officers: Officers,
) -> None:
    request = rights.open_case(mixed.archive, kind="erasure", identifiers=[C.email],
                               channel="email", requester="C", actor="dpo")
    erase = client.post(f"/api/v1/subjects/{C.email}/erase",
                        json={"case_id": request["id"]},
                        headers=officers.first["privacy"]).json()["approval_id"]
    obj = _propose_object(client, mixed, officers.first["privacy"]).json()["approval_id"]
    privacy = officers.second["privacy"]
    by_case = client.get("/api/v1/approvals", params={"case_id": request["id"]},
                         headers=privacy).json()
    assert [a["id"] for a in by_case] == [erase] and by_case[0]["case_id"] == request["id"]
    by_action = client.get("/api/v1/approvals", params={"action": "object"},
                           headers=privacy).json()
    assert [a["id"] for a in by_action] == [obj]
    client.post(f"/api/v1/approvals/{obj}/reject", headers=privacy)
    pending = client.get("/api/v1/approvals", params={"status": "pending"},
                         headers=privacy).json()
    assert [a["id"] for a in pending] == [erase]
    # The admin decides key retirements only, and never sees a privacy proposal's dry run.
    assert client.get("/api/v1/approvals", headers=officers.first["admin"]).json() == []
    assert_error(client.get(f"/api/v1/approvals/{erase}", headers=officers.first["admin"]),
                 404, "not_found")
    assert_error(client.get("/api/v1/approvals", headers=officers.first["quality"]), 403,
                 "wrong_role")


def test_a_proposal_that_would_be_refused_is_refused_when_proposed(
    client: TestClient, officers: Officers,
) -> None:
    current = client.post("/api/v1/admin/keys/training/versions/1/retire", json={},
                          headers=officers.first["admin"])
    error = assert_error(current, 400, "invalid_request")
    assert "current key" in str(error["message"])
    assert_error(client.post("/api/v1/holds/999/lift", json={"note": "x"},
                             headers=officers.first["legal"]), 404, "not_found")
    assert client.get("/api/v1/approvals", headers=officers.first["admin"]).json() == []


def test_a_failure_at_execution_is_recorded_with_the_approval(
    client: TestClient, mixed: Mixed, officers: Officers,
) -> None:
    proposal = _propose_retire(client, mixed, officers.first["admin"]).json()
    # Meanwhile an operator retired it on the break-glass path: the approval cannot run.
    keyadmin.retire_key(mixed.archive.vault, "training", 1, actor="cli")
    resp = client.post(f"/api/v1/approvals/{proposal['approval_id']}/approve",
                       headers=officers.second["admin"])
    assert_error(resp, 400, "invalid_request")
    failed = client.get(f"/api/v1/approvals/{proposal['approval_id']}",
                        headers=officers.second["admin"]).json()
    assert failed["status"] == "failed"
    assert "no active key version 1" in failed["result"]["error"]["message"]


def test_an_approved_erasure_is_written_into_the_request_case_it_answers(
    client: TestClient, mixed: Mixed, officers: Officers
) -> None:
    case = rights.open_case(mixed.archive, kind="erasure", identifiers=[C.email],
                            channel="email", requester="C", actor="privacy-one")
    missing = client.post(f"/api/v1/subjects/{C.email}/erase",
                          json={"also": [C.phone], "case_id": case["id"] + 99},
                          headers=officers.first["privacy"])
    assert_error(missing, 404, "not_found")
    proposed = client.post(f"/api/v1/subjects/{C.email}/erase",
                           json={"also": [C.phone], "case_id": case["id"]},
                           headers=officers.first["privacy"])
    assert proposed.status_code == 202, proposed.text
    approval_id = proposed.json()["approval_id"]
    assert not _case_actions(mixed.archive, case["id"])  # nothing done yet
    done = client.post(f"/api/v1/approvals/{approval_id}/approve", json={"note": "ok"},
                       headers=officers.second["privacy"])
    assert done.status_code == 200, done.text
    actions = _case_actions(mixed.archive, case["id"])
    assert [a["action"] for a in actions] == ["erase"]
    assert actions[0]["detail"]["approval_id"] == approval_id
    assert actions[0]["detail"]["proposed_by"] == "privacy-one"
    assert actions[0]["detail"]["approved_by"] == "privacy-two"
    listed = client.get("/api/v1/approvals", params={"case_id": case["id"]},
                        headers=officers.first["privacy"]).json()
    assert [a["id"] for a in listed] == [approval_id]


def _case_actions(archive: Archive, case_id: int) -> list[dict[str, Any]]:
    return [e for e in rights.get_case(archive, case_id)["events"] if e["step"] == "action"]
