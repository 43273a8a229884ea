"""The anonymised view of an item is made once, kept sealed, and made again only when
what it was made from changes (the recognisers, the parties, the sealed parts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from archive import catalog as cat
from archive.anonymise import recognisers
from archive.config import Role
from archive.model import Section
from archive.service import Archive
from archive.view_cache import PART_ANONYMISED, ViewCache
from tests.conftest import email_item

BODY = ("Beste, mijn buurman Henk Wouters heeft ook geen internet. Mijn klantnummer is "
        "KL-48291A. Groet, Jan")


@pytest.fixture
def no_formats() -> Iterator[None]:
    recognisers.configure(customer_numbers=())
    yield
    recognisers.configure(customer_numbers=())


def _part(archive: Archive, item_id: str) -> sa.Row[object] | None:
    with archive.catalog.read() as conn:
        return conn.execute(sa.select(cat.parts).where(
            cat.parts.c.item_id == item_id, cat.parts.c.name == PART_ANONYMISED)).first()


def _sealed_bytes(archive: Archive, row: sa.Row[object]) -> bytes:
    inline = row._mapping["inline"]
    return bytes(inline) if inline is not None else archive.store.get(row._mapping["blob_key"])


def test_the_view_is_made_once_and_kept_sealed(
        archive: Archive, no_formats: None, monkeypatch: pytest.MonkeyPatch) -> None:
    item_id = archive.ingest(email_item(body=BODY)).item_id
    trainer = archive.users.authenticate(archive.users.add("t", Role.TRAINER))
    assert _part(archive, item_id) is None
    first = archive.read_content(trainer, item_id).data.decode()
    assert "Wouters" not in first
    row = _part(archive, item_id)
    assert row is not None
    sealed = _sealed_bytes(archive, row)
    assert b"Wouters" not in sealed and b"internet" not in sealed  # sealed, not plaintext

    made: list[str] = []
    real = ViewCache._keep
    monkeypatch.setattr(ViewCache, "_keep",
                        lambda self, i, v, d: (made.append(i), real(self, i, v, d)))
    assert archive.read_content(trainer, item_id).data.decode() == first
    meta = archive.get_item(trainer, item_id)
    assert meta.anonymised and made == []  # content and metadata from the kept view


def test_new_recognisers_settings_make_the_view_again(archive: Archive, no_formats: None) -> None:
    item_id = archive.ingest(email_item(body=BODY)).item_id
    trainer = archive.users.authenticate(archive.users.add("t", Role.TRAINER))
    assert "KL-48291A" in archive.read_content(trainer, item_id).data.decode()
    key = _part(archive, item_id)
    recognisers.configure(customer_numbers=[r"KL-\d{5}[A-Z]"])
    text = archive.read_content(trainer, item_id).data.decode()
    assert "KL-48291A" not in text and "[CUSTOMER-NUMBER]" in text
    assert _part(archive, item_id) != key


def test_a_transcript_attached_again_is_what_the_trainer_gets(archive: Archive) -> None:
    from tests.archive.test_anonymise import _call, _words

    item_id = _call(archive)
    trainer = archive.users.authenticate(archive.users.add("t", Role.TRAINER))

    def attach(*words: tuple[str, float]) -> None:
        transcript = {"speakers": [{"label": "customer", "channel": 0,
                                    "words": _words(*words), "utterances": []}]}
        archive.attach_transcript(item_id, transcript,
                                  [Section("transcript", "x", "customer", 1.0)], "x")

    attach(("de", 1.0), ("storing", 1.5))
    assert "storing" in archive.read_content(trainer, item_id, part="transcript").data.decode()
    attach(("de", 1.0), ("factuur", 1.5))
    text = archive.read_content(trainer, item_id, part="transcript").data.decode()
    assert "factuur" in text and "storing" not in text
