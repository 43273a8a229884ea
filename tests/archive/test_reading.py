"""Content is readable only through a purpose the role holds and the item carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archive import holds, rights
from archive.config import Role
from archive.errors import AccessDenied, ErrorCode, IndexUnavailable
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
    item = email_item(
        body="Call me on +31 6 1234 5678, mail jan@customer.nl or piet@elders.nl. Jan")
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


QUALITY = User("q", Role.QUALITY)


TRAINER = User("t", Role.TRAINER)


LEGAL = User("l", Role.LEGAL)


def test_search_follows_the_catalog_when_the_index_lags(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = archive.ingest(email_item(body="zebra complaint", customer="zed@klant.nl")).item_id

    def index_down(*_args: object, **_kw: object) -> None:
        raise IndexUnavailable(reason="down for the test")

    monkeypatch.setattr(archive.index, "upsert", index_down)
    rights.restrict_subject(archive, "zed@klant.nl", reason="disputed", actor="dpo")
    assert archive.record(item_id).restricted
    assert archive.search(QUALITY, SearchQuery(text="zebra")).result.total == 0
    assert archive.search(TRAINER, SearchQuery(text="zebra")).result.hits == ()


def test_trainer_snippets_lose_addresses_and_numbers_split_by_highlighting(
    archive: Archive,
) -> None:
    archive.ingest(email_item(
        body="Please call piet.jansen@gmail.com or 06 1234 5678 about the modem jansen"))
    hits = archive.search(TRAINER, SearchQuery(text="modem jansen")).result.hits
    assert len(hits) == 1
    snippet = hits[0].snippet
    assert "gmail" not in snippet and "1234" not in snippet, snippet
    assert "<mark>modem</mark>" in snippet
    quality_hit = archive.search(QUALITY, SearchQuery(text="modem")).result.hits[0]
    assert "1234" in quality_hit.snippet  # only the anonymised view is redacted


@pytest.mark.parametrize("query", [
    SearchQuery(party="jan@customer.nl"),
    SearchQuery(subject="jan@customer.nl"),
    SearchQuery(text="jan@customer.nl"),
    SearchQuery(text="0612345678"),
])
def test_trainers_cannot_search_for_a_person(archive: Archive, query: SearchQuery) -> None:
    archive.ingest(email_item())
    with pytest.raises(AccessDenied) as err:
        archive.search(TRAINER, query)
    assert err.value.code is ErrorCode.WRONG_ROLE


def test_a_hold_keeps_data_for_legal_but_does_not_extend_quality_access(
    archive: Archive,
) -> None:
    started = datetime.now(UTC) - archive.config.purpose("quality").retention - timedelta(days=1)
    item_id = archive.ingest(email_item(started_at=started, body="kept for court")).item_id
    holds.place_hold(archive, actor="legal-1", reason="case", case_ref="X", item_ids=[item_id])
    with pytest.raises(AccessDenied):
        archive.read_content(QUALITY, item_id)
    assert archive.read_content(LEGAL, item_id).purpose == "legal"
    assert archive.search(QUALITY, SearchQuery(text="court")).result.total == 0


def test_trainer_sees_rectifications_redacted(archive: Archive) -> None:
    item_id = archive.ingest(email_item(body="my modem")).item_id
    rights.annotate_item(archive, item_id, "Correct number is 0612345678, name Johannes",
                     actor="dpo")
    view = archive.get_item(TRAINER, item_id)
    assert "0612345678" not in str(view.annotations)
    assert archive.get_item(User("p", Role.PRIVACY), item_id).annotations[0]["text"].startswith(
        "Correct number is 0612345678")
