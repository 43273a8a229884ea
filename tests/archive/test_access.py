"""Content is readable only through a purpose the role holds and the item carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archive.config import Role
from archive.errors import AccessDenied, ErrorCode
from archive.index import SearchQuery
from archive.service import Archive
from archive.users import User
from tests.conftest import email_item


def _user(archive: Archive, role: Role) -> User:
    return archive.users.authenticate(archive.users.add(f"u-{role.value}", role))


def test_each_reader_role_reads_through_its_own_purpose(archive: Archive) -> None:
    item_id = archive.ingest(email_item()).item_id
    assert archive.read_content(_user(archive, Role.QUALITY), item_id).purpose == "quality"
    assert archive.read_content(_user(archive, Role.LEGAL), item_id).purpose == "legal"
    privacy = archive.read_content(_user(archive, Role.PRIVACY), item_id)
    assert not privacy.anonymised


def test_machine_and_admin_roles_never_read_content(archive: Archive) -> None:
    item_id = archive.ingest(email_item()).item_id
    for role in (Role.INGEST, Role.ADMIN):
        with pytest.raises(AccessDenied) as err:
            archive.read_content(_user(archive, role), item_id)
        assert err.value.code is ErrorCode.WRONG_ROLE


def test_purpose_not_held_and_not_carried_are_distinct_refusals(archive: Archive) -> None:
    item_id = archive.ingest(email_item()).item_id
    quality = _user(archive, Role.QUALITY)
    with pytest.raises(AccessDenied) as err:
        archive.read_content(quality, item_id, purpose="legal")
    assert err.value.code is ErrorCode.PURPOSE_NOT_HELD
    archive.shred(item_id, purposes=["quality"])
    with pytest.raises(AccessDenied) as err:
        archive.read_content(quality, item_id)
    assert err.value.code is ErrorCode.PURPOSE_NOT_CARRIED
    # The legal role still reads through its own purpose: the limit is per purpose.
    assert archive.read_content(_user(archive, Role.LEGAL), item_id).purpose == "legal"


def test_trainer_gets_only_anonymised_text(archive: Archive) -> None:
    item = email_item(body="Call me on +31 6 1234 5678, mail jan@customer.nl or piet@elders.nl. Jan")
    item_id = archive.ingest(item).item_id
    content = archive.read_content(_user(archive, Role.TRAINER), item_id)
    assert content.anonymised
    text = content.data.decode()
    assert "1234 5678" not in text and "@" not in text and "Jan" not in text
    assert "[PHONE]" in text and "[EMAIL]" in text
    assert "[CUSTOMER-1]" in text


def test_every_content_read_is_audited(archive: Archive) -> None:
    item_id = archive.ingest(email_item()).item_id
    quality = _user(archive, Role.QUALITY)
    archive.read_content(quality, item_id)
    reads = archive.audit.events(actor=quality.name, action="read")
    assert [e.item_ids for e in reads] == [(item_id,)]
    assert reads[0].purpose == "quality"


def test_search_only_returns_what_the_role_may_see(archive: Archive) -> None:
    archive.ingest(email_item(body="zebra crossing"))
    only_legal = archive.ingest(email_item(body="zebra stripes")).item_id
    archive.shred(only_legal, purposes=["quality", "training"])
    archive.reindex()
    quality = _user(archive, Role.QUALITY)
    legal = _user(archive, Role.LEGAL)
    assert archive.search(quality, SearchQuery(text="zebra")).result.total == 1
    assert archive.search(legal, SearchQuery(text="zebra")).result.total == 2


def test_expired_and_unknown_tokens_are_refused_with_their_own_codes(archive: Archive) -> None:
    token = archive.users.add("temp", Role.QUALITY, expires_in=timedelta(days=1))
    assert archive.users.authenticate(token).name == "temp"
    with pytest.raises(AccessDenied) as err:
        archive.users.authenticate(token, now=datetime.now(UTC) + timedelta(days=2))
    assert err.value.code is ErrorCode.TOKEN_EXPIRED
    with pytest.raises(AccessDenied) as err:
        archive.users.authenticate("cma_not-a-real-token")
    assert err.value.code is ErrorCode.TOKEN_UNKNOWN
    archive.users.disable("temp")
    with pytest.raises(AccessDenied) as err:
        archive.users.authenticate(token)
    assert err.value.code is ErrorCode.TOKEN_UNKNOWN


def test_tokens_are_stored_hashed(archive: Archive) -> None:
    token = archive.users.add("someone", Role.QUALITY)
    raw = (archive.data_dir / "catalog.sqlite").read_bytes()
    assert token.encode() not in raw
