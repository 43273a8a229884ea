"""No plaintext at rest, integrity errors that name the item, rotation, crypto-shredding."""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.config import Role
from archive.errors import AccessDenied, ContentIntegrityError
from archive.service import Archive
from archive.vault import blob_key
from ingest.audio import write_wav
from ingest.calls import build_call_item, parse_sidecar, recording_from_file
from ingest.email.item import Envelope, build_item
from keys.aead import CHUNK_OVERHEAD_BYTES, CHUNK_SIZE_BYTES, HEADER_SIZE_BYTES
from tests.conftest import email_item

MARKERS = [
    b"Kwartaalfactuur-ZEBRA-4471",
    "Gr\u00fc\u00dfe aus K\u00f6ln, Frau M\u00fcller-\u00d6zt\u00fcrk".encode(),
    b"attachment-secret-PLUTO-9",
]


def _mail(n: int) -> bytes:
    return (
        "From: Anna M\u00fcller <anna@customer.de>\r\nTo: support@example.com\r\n"
        f"Subject: Rechnung {MARKERS[0].decode()} #{n}\r\n"
        f"Message-ID: <m{n}@customer.de>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{MARKERS[1].decode()} - body {n}\r\n"
        "--b\r\nContent-Type: text/plain; name=notes.txt\r\n"
        "Content-Disposition: attachment; filename=notes.txt\r\n\r\n"
        f"{MARKERS[2].decode()}\r\n--b--\r\n"
    ).encode()


def _tone_wav() -> tuple[bytes, bytes]:
    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(i / 7.0))) for i in range(16000))
    return write_wav(8000, [pcm, pcm[::-1]]), pcm[4000:4064]


def _ingest_mail(archive: Archive, raw: bytes) -> str:
    env = Envelope(mail_from="anna@customer.de", rcpt_tos=("support@example.com",),
                   received_at=datetime.now(UTC))
    item = build_item(raw, env, is_internal=archive.is_internal_address)
    return archive.ingest(item).item_id


def _ingest_call(archive: Archive, wav: bytes) -> str:
    sidecar = parse_sidecar({"call_id": "c-1", "from": "+31612345678", "to": "+31205550100",
                             "direction": "inbound", "start": "2026-11-01T10:00:00Z"})
    plan = archive.config
    return archive.ingest(build_call_item(
        recording_from_file(wav, sidecar, source="test", config=plan), plan)).item_id


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_no_plaintext_content_anywhere_on_disk_but_the_index(archive: Archive) -> None:
    for n in range(3):
        _ingest_mail(archive, _mail(n))
    wav, pcm_slice = _tone_wav()
    _ingest_call(archive, wav)
    archive.catalog.checkpoint()
    leaks = []
    for path in _files(archive.data_dir):
        if path.name.startswith("index.sqlite"):
            continue
        data = path.read_bytes()
        leaks += [f"{path}: {m!r}" for m in [*MARKERS, pcm_slice] if m in data]
    assert leaks == []
    # The scan can find things: the derived index does hold the searchable text.
    index_bytes = b"".join(p.read_bytes() for p in _files(archive.data_dir)
                           if p.name.startswith("index.sqlite"))
    assert MARKERS[2] in index_bytes


def _only_blob(archive: Archive, item_id: str) -> Path:
    return archive.data_dir / "blobs" / blob_key(item_id, "original")


def _big_item(archive: Archive) -> str:
    body = "x" * (3 * CHUNK_SIZE_BYTES)
    return archive.ingest(email_item(body=body)).item_id


@pytest.mark.parametrize("damage", ["flip", "truncate", "swap"])
def test_damaged_blob_gives_integrity_error_naming_the_item(archive: Archive,
                                                            damage: str) -> None:
    item_id = _big_item(archive)
    path = _only_blob(archive, item_id)
    data = bytearray(path.read_bytes())
    block = CHUNK_SIZE_BYTES + CHUNK_OVERHEAD_BYTES
    if damage == "flip":
        data[HEADER_SIZE_BYTES + block + 100] ^= 0x80
    elif damage == "truncate":
        del data[HEADER_SIZE_BYTES + 2 * block :]
    else:
        first = data[HEADER_SIZE_BYTES : HEADER_SIZE_BYTES + block]
        data[HEADER_SIZE_BYTES : HEADER_SIZE_BYTES + block] = data[
            HEADER_SIZE_BYTES + block : HEADER_SIZE_BYTES + 2 * block]
        data[HEADER_SIZE_BYTES + block : HEADER_SIZE_BYTES + 2 * block] = first
    path.write_bytes(bytes(data))
    quality = archive.users.authenticate(archive.users.add("q", Role.QUALITY))
    with pytest.raises(ContentIntegrityError) as err:
        archive.read_content(quality, item_id)
    assert err.value.item_id == item_id
    assert item_id in str(err.value)


def test_rotation_rewraps_and_reads_still_work(archive: Archive) -> None:
    ids = [archive.ingest(email_item(body=f"mail {n}")).item_id for n in range(3)]
    blobs_before = {i: _only_blob(archive, i).read_bytes() for i in ids}
    version, count = archive.rotate_key("quality")
    assert (version, count) == (2, 3)
    quality = archive.users.authenticate(archive.users.add("q", Role.QUALITY))
    for item_id in ids:
        assert b"mail" in archive.read_content(quality, item_id).data
        # Content was not re-encrypted: the blob is byte-identical.
        assert _only_blob(archive, item_id).read_bytes() == blobs_before[item_id]
    archive.keyring.retire("quality", 1)
    assert b"mail" in archive.read_content(quality, ids[0]).data
    assert json.loads("[]") == []


def test_crypto_shred_makes_content_unrecoverable_though_blob_remains(archive: Archive) -> None:
    item_id = archive.ingest(email_item(body="shred me")).item_id
    archive.shred(item_id)
    archive.catalog.checkpoint()
    assert _only_blob(archive, item_id).exists()
    for role in (Role.QUALITY, Role.LEGAL, Role.PRIVACY):
        user = archive.users.authenticate(archive.users.add(f"u{role.value}", role))
        with pytest.raises(AccessDenied):
            archive.read_content(user, item_id)
    with pytest.raises(AccessDenied):
        archive.vault.dek(item_id)


# -- forensic erasure: nothing of an erased item survives in any file the archive owns --


def _forensic_forms(secret: bytes) -> list[bytes]:
    import base64

    return [secret, secret.hex().encode(), base64.b64encode(secret).rstrip(b"=")]


@pytest.mark.parametrize("large", [False, True], ids=["inline", "blob"])
def test_after_an_erasure_no_file_holds_the_wrapped_keys_or_the_content(
    tmp_path: Path, large: bool,
) -> None:
    import sqlalchemy as sa

    from archive import catalog as cat
    from archive import rights
    from archive.config import ArchiveConfig, TaggingRule
    from tests.conftest import TEST_CONFIG, make_archive

    config = ArchiveConfig(internal_domains=TEST_CONFIG.internal_domains,
                           rules=(TaggingRule(purposes=("quality", "training")),))
    data_dir = tmp_path / "data"
    arc = make_archive(data_dir, config=config)
    phrase = "Zyxwvut geheime aanvraag 4471 van Anna"
    body = phrase + (" extra padding words" * 2000 if large else "")
    erased = arc.ingest(email_item(customer="anna@customer.nl", subject="Qwzx subject 91",
                                   body=body)).item_id
    kept = arc.ingest(email_item(customer="bob@other.nl", body="Bob keeps his mail")).item_id
    with arc.catalog.read() as conn:
        wrapped = [bytes(r.blob) for r in conn.execute(
            sa.select(cat.wrapped_keys).where(cat.wrapped_keys.c.item_id == erased))]
    dek = arc.vault.dek(erased)
    assert len(wrapped) == 2
    certificate = rights.erase_subject(arc, "anna@customer.nl", actor="dpo")
    assert [e["item_id"] for e in certificate.erased] == [erased]
    needles = [w for key in (*wrapped, dek) for w in _forensic_forms(key)]
    needles += [phrase.encode(), b"Qwzx subject 91", "Zyxwvut".encode("utf-16-le")]

    def leftovers() -> list[tuple[str, int]]:
        owned = [p for root in (data_dir, tmp_path) for p in root.rglob("*") if p.is_file()]
        return [(str(p.relative_to(tmp_path)), n) for p in owned
                for n, needle in enumerate(needles) if needle in p.read_bytes()]

    # While the archive is open (catalog and index WAL files present) ...
    assert list(data_dir.glob("*-wal")), "expected SQLite WAL files to scan"
    assert leftovers() == []
    assert arc.vault.unseal_for_system(kept, "original")
    arc.close()
    # ... and after it closed.
    assert leftovers() == []


class _CountingStore:
    """A store proxy that counts the sealed bytes read from it."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.read_bytes = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def get(self, key: str) -> bytes:
        data: bytes = self.inner.get(key)  # type: ignore[attr-defined]
        self.read_bytes += len(data)
        return data

    def get_range(self, key: str, start: int, length: int) -> bytes:
        data: bytes = self.inner.get_range(key, start, length)  # type: ignore[attr-defined]
        self.read_bytes += len(data)
        return data


def test_a_span_of_a_part_decrypts_only_the_chunks_that_hold_it(archive: Archive) -> None:
    # GIVEN an original sealed in several chunks
    data = bytes(range(256)) * (5 * CHUNK_SIZE_BYTES // 256 + 7)
    item_id = archive.ingest(dataclasses.replace(email_item(), original=data)).item_id
    vault = archive.vault
    dek = vault.dek(item_id)
    row = vault.part_row(item_id, "original")
    whole = vault.unseal(item_id, "original", dek, row)
    # WHEN a span across one chunk border is read through a store that counts bytes
    counting = _CountingStore(vault.store)
    vault.store = counting  # type: ignore[assignment]
    try:
        start = CHUNK_SIZE_BYTES - 10
        got = vault.unseal(item_id, "original", dek, row, span=(start, 20))
        # THEN the bytes are those of the whole, and only two chunks (and the header) were read
        assert got == whole[start:start + 20]
        assert counting.read_bytes <= HEADER_SIZE_BYTES + 2 * (CHUNK_SIZE_BYTES
                                                                + CHUNK_OVERHEAD_BYTES)
    finally:
        vault.store = counting.inner  # type: ignore[assignment]
