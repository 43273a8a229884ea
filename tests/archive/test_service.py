from __future__ import annotations

from archive.config import Role
from archive.index import SearchQuery
from archive.service import Archive
from tests.conftest import email_item


def test_ingest_then_quality_reads_original_and_finds_it(archive: Archive) -> None:
    item = email_item(body="The router keeps rebooting")
    result = archive.ingest(item)
    assert result.created
    user = archive.users.authenticate(archive.users.add("q", Role.QUALITY))
    content = archive.read_content(user, result.item_id)
    assert content.data == item.original
    page = archive.search(user, SearchQuery(text="rebooting"))
    assert [h.item_id for h in page.result.hits] == [result.item_id]
