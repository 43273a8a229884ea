"""Policy outcomes at the SMTP door: unparsed mail is for privacy first; no purpose, 550."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archive.config import ArchiveConfig, Role, TaggingRule
from archive.errors import AccessDenied, ErrorCode
from archive.model import Channel
from archive.service import Archive
from ingest.email.config import SmtpConfig
from search_api.app import create_app
from tests.conftest import make_archive
from tests.ingest.email.conftest import RunningServer, Serve
from tests.ingest.email.test_smtp import message


def test_unparsed_mail_is_readable_by_privacy_only_and_listed_for_admin(
    archive: Archive, serve: Serve
) -> None:
    raw = b"\x00\x01garbage that is not a message\r\n\xff\xfe\r\n"
    with serve().client() as smtp:
        smtp.sendmail("jan@customer.nl", ["support@example.com"], raw)
    item_id = archive.item_ids()[0]
    quality = archive.authenticate(archive.users.add("q", Role.QUALITY))
    with pytest.raises(AccessDenied) as err:
        archive.read_content(quality, item_id)
    assert err.value.code is ErrorCode.RESTRICTED
    privacy = archive.authenticate(archive.users.add("p", Role.PRIVACY))
    assert archive.read_content(privacy, item_id).data == raw
    admin = archive.users.add("a", Role.ADMIN)
    with TestClient(create_app(archive)) as http:
        listed = http.get("/api/v1/admin/items", params={"status": "unparsed"},
                          headers={"Authorization": f"Bearer {admin}"}).json()["items"]
        assert [(i["id"], i["status_reason"]) for i in listed] == [(item_id, "no_headers")]
        assert "parties" not in listed[0]
        refused = http.get(f"/api/v1/items/{item_id}/content",
                           headers={"Authorization": f"Bearer {admin}"})
        assert refused.json()["error"]["code"] == "wrong_role"


def test_mail_no_purpose_applies_to_is_refused_with_550_not_retried(tmp_path: Path) -> None:
    calls_only = ArchiveConfig(rules=(TaggingRule(purposes=("legal",), channel=Channel.CALL),))
    arc = make_archive(tmp_path / "a", config=calls_only)
    server = RunningServer(arc, SmtpConfig(port=0))
    try:
        with server.client() as smtp, pytest.raises(smtplib.SMTPDataError) as err:
            smtp.sendmail("jan@customer.nl", ["support@example.com"], message())
        assert err.value.smtp_code == 550
        assert b"no tagging rule" in err.value.smtp_error
        assert arc.item_ids() == []
    finally:
        server.close()
        arc.close()
