"""The erasure ledger's contract, on a file, in memory and in an S3 Object Lock bucket.

A backup (or a pg_dump) taken before an erasure is made safe by replaying this
ledger, so a ledger that silently lost, forked or rewrote entries would bring
erased people back on restore. The S3 ledger runs against the test S3 server
(moto, ``tests.services``; never skipped in CI).
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive import rights
from archive.catalog import Catalog, sqlite_url
from archive.ledger import ErasureLedger, LedgerError, MemoryLedger, tables
from archive.ledger.file import FileLedger
from archive.ledger.s3 import S3Ledger
from archive.service import Archive
from tests.conftest import email_item
from tests.services import postgres_database, s3_endpoint

KEY = b"k" * 32
KINDS = ("file", "memory", "s3")

#: Another handle on the same ledger: another process, or another node (own catalog
#: connection to the same catalog).
Opener = Callable[[], ErasureLedger]


class Ledgers:
    """Handles on one ledger of one kind, and the catalog its bookmark is in."""

    def __init__(self, kind: str, tmp_path: Path, catalog_url: str | None = None) -> None:
        self.kind = kind
        self.path = tmp_path / "x.erasures"
        self.catalog_url = catalog_url or sqlite_url(tmp_path / "catalog.sqlite")
        self.catalogs: list[Catalog] = []
        self.bucket = f"ledger-{uuid.uuid4().hex[:12]}"
        self._memory = MemoryLedger(KEY)
        self.catalog = self.new_catalog()

    def new_catalog(self, url: str | None = None) -> Catalog:
        catalog = Catalog(url or self.catalog_url)
        catalog.create_schema()
        self.catalogs.append(catalog)
        return catalog

    def open(self, catalog: Catalog | None = None) -> ErasureLedger:
        if self.kind == "file":
            return FileLedger(self.path, KEY)
        if self.kind == "memory":
            return self._memory
        ep = s3_endpoint()
        ledger = S3Ledger(ep["endpoint"], access_key=ep["access_key"],
                          secret_key=ep["secret_key"], secure=ep["secure"], region=ep["region"],
                          bucket=self.bucket, prefix="erasure-ledger/t", key=KEY,
                          catalog=catalog or self.new_catalog(), retention_days=1)
        ledger.ensure_bucket()
        return ledger

    def close(self) -> None:
        for catalog in self.catalogs:
            catalog.dispose()


@pytest.fixture(params=KINDS)
def ledgers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledgers]:
    made = Ledgers(request.param, tmp_path)
    yield made
    made.close()


@pytest.fixture(params=("file", "s3"))
def stored(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledgers]:
    """Ledgers whose storage a test can tamper with."""
    made = Ledgers(request.param, tmp_path)
    yield made
    made.close()


def _three(ledger: ErasureLedger) -> ErasureLedger:
    for n in range(3):
        ledger.record("purge", [f"item-{n}"], reason="erasure", reference=f"req-{n}")
    return ledger


# -- the contract, on every kind ---------------------------------------------------------


def test_entries_come_back_in_order_with_a_head_the_anchor_can_name(ledgers: Ledgers) -> None:
    ledger = _three(ledgers.open())
    assert [e.item_ids for e in ledger.entries()] == [("item-0",), ("item-1",), ("item-2",)]
    assert [e.reference for e in ledger.entries(after=2)] == ["req-2"]
    head = ledger.head()
    assert head is not None and head[0] == 3 and head == ledger.head(fresh=True)
    assert ledger.holds(*head) is None
    assert "cut off its end" in (ledger.holds(4, head[1]) or "")
    assert "rewritten" in (ledger.holds(2, head[1]) or "")


def test_another_handle_continues_the_same_chain(ledgers: Ledgers) -> None:
    """A command-line erasure appends while the serving process (or another node) does."""
    serving, cli = ledgers.open(), ledgers.open()
    for n in range(4):
        (serving if n % 2 else cli).record("shred", [f"i{n}"], purposes=["training"])
    assert [e.item_ids[0] for e in serving.entries()] == ["i0", "i1", "i2", "i3"]
    assert serving.head(fresh=True) == cli.head(fresh=True)
    assert serving.head(fresh=True)[0] == 4  # type: ignore[index]


def test_an_erasure_moves_the_catalogs_bookmark_in_its_own_transaction(
    ledgers: Ledgers,
) -> None:
    ledger = ledgers.open(ledgers.catalog)
    with ledgers.catalog.write() as conn:
        written = ledger.record("purge", ["a"], reason="erasure", conn=conn)
    with ledgers.catalog.read() as conn:
        assert tables.applied(conn) == written == ledger.head()
    with pytest.raises(RuntimeError), ledgers.catalog.write() as conn:
        ledger.record("purge", ["b"], reason="erasure", conn=conn)
        raise RuntimeError("the erasure failed after its entry was written")
    with ledgers.catalog.read() as conn:
        assert tables.applied(conn) == written  # the catalog did not apply entry 2
    assert ledger.head(fresh=True)[0] == 2  # type: ignore[index]  # replay completes it


def test_two_appenders_racing_never_fork_the_chain(ledgers: Ledgers) -> None:
    handles = [ledgers.open(), ledgers.open()]
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            for i in range(6):
                handles[n].record("purge", [f"w{n}-{i}"], reason="erasure")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    items = [e.item_ids[0] for e in handles[0].entries()]
    assert sorted(items) == sorted(f"w{n}-{i}" for n in range(2) for i in range(6))
    assert handles[1].head(fresh=True)[0] == 12  # type: ignore[index]


# -- tampering: refused, naming the entry -------------------------------------------------


def _remove(ledgers: Ledgers, ledger: ErasureLedger, n: int) -> None:
    if ledgers.kind == "file":
        lines = ledgers.path.read_bytes().splitlines(keepends=True)
        ledgers.path.write_bytes(b"".join(lines[:n - 1] + lines[n:]))
        return
    assert isinstance(ledger, S3Ledger)
    # A plain delete in an Object Lock bucket: a delete marker over the locked version.
    ledger._client.remove_object(ledger.bucket, f"erasure-ledger/t/{n:020d}")


def _overwrite(ledgers: Ledgers, ledger: ErasureLedger, n: int, data: bytes) -> None:
    if ledgers.kind == "file":
        lines = ledgers.path.read_bytes().splitlines(keepends=True)
        lines[n - 1] = data + b"\n"
        ledgers.path.write_bytes(b"".join(lines))
        return
    import base64
    import hashlib

    assert isinstance(ledger, S3Ledger)
    ledger._client.put_object(
        ledger.bucket, f"erasure-ledger/t/{n:020d}", io.BytesIO(data), len(data),
        metadata={"x-amz-sdk-checksum-algorithm": "SHA256",
                  "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(data).digest())
                  .decode()})


def _line(ledgers: Ledgers, ledger: ErasureLedger, n: int) -> bytes:
    if ledgers.kind == "file":
        return ledgers.path.read_bytes().splitlines()[n - 1]
    assert isinstance(ledger, S3Ledger)
    return bytes(ledger._client.get_object(ledger.bucket, f"erasure-ledger/t/{n:020d}").read())


def test_a_removed_entry_is_refused_naming_it(stored: Ledgers) -> None:
    ledger = _three(stored.open())
    _remove(stored, ledger, 2)
    with pytest.raises(LedgerError, match=r"(line|entry) 2 (does not follow|was deleted)"):
        list(ledger.entries())
    assert re.search(r"(line|entry) 2 ", ledger.holds(3, "any") or "")  # audit verify


def test_an_overwritten_entry_is_refused_naming_it(stored: Ledgers) -> None:
    """Copying another valid entry over entry 2 keeps every MAC valid; the chain
    (and in S3 the second version beside the locked one) gives it away."""
    ledger = _three(stored.open())
    _overwrite(stored, ledger, 2, _line(stored, ledger, 3))
    with pytest.raises(LedgerError, match=r"(line|entry) 2 (does not follow|was overwritten)"):
        list(ledger.entries())
    _overwrite(stored, ledger, 2, b'{"entry": "{}", "mac": "forged"}')
    with pytest.raises(LedgerError, match=r"(line|entry) 2 "):
        list(ledger.entries())


def test_a_file_ledger_entry_from_before_chaining_is_read_and_continued(
    tmp_path: Path,
) -> None:
    """Ledgers written by earlier versions have unchained lines: still valid."""
    import hashlib
    import hmac

    path = tmp_path / "x.erasures"
    body = json.dumps({"at": "2026-11-01T00:00:00+00:00", "action": "purge",
                       "item_ids": ["old"], "purposes": None, "reason": "erasure",
                       "reference": None}, sort_keys=True)
    mac = hmac.new(KEY, b"ledger\n" + body.encode(), hashlib.sha256).hexdigest()
    path.write_bytes(json.dumps({"entry": body, "mac": mac}).encode() + b"\n")
    ledger = FileLedger(path, KEY)
    ledger.record("purge", ["new"], reason="erasure")
    assert [e.item_ids[0] for e in ledger.entries()] == ["old", "new"]
    assert ledger.head() is not None and ledger.head()[0] == 2  # type: ignore[index]


def test_a_line_torn_by_a_power_loss_is_cut_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "x.erasures"
    ledger = _three(FileLedger(path, KEY))
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"entry": "{\\"act')  # written, never completed
    assert len(list(ledger.entries())) == 3
    ledger.record("purge", ["item-3"], reason="erasure")
    assert [e.item_ids[0] for e in ledger.entries()][-1] == "item-3"
    assert path.read_bytes().startswith(whole)


# -- S3: stale views, the conditional create, a cheap head --------------------------------


def test_a_node_with_a_stale_catalog_appends_after_the_real_head(tmp_path: Path) -> None:
    """A catalog restored from an older dump knows an older head (or none): its next
    entry must not take a number another node already wrote."""
    made = Ledgers("s3", tmp_path)
    try:
        current = _three(made.open())
        restored = made.open(made.new_catalog(sqlite_url(tmp_path / "restored.sqlite")))
        number, _ = restored.record("purge", ["after-restore"], reason="erasure")
        assert number == 4
        assert [e.item_ids[0] for e in current.entries()][-1] == "after-restore"
    finally:
        made.close()


def test_the_s3_server_refuses_a_second_create_of_one_entry(tmp_path: Path) -> None:
    """The ledger's ``If-None-Match: *``: honoured by the test S3 server, so even two
    writers that bypassed the lock could not both write entry N."""
    from minio.error import S3Error

    made = Ledgers("s3", tmp_path)
    try:
        ledger = _three(made.open())
        assert isinstance(ledger, S3Ledger)
        import base64
        import hashlib

        checksum = base64.b64encode(hashlib.sha256(b"{}").digest()).decode()
        headers = {"x-amz-sdk-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": checksum}
        name = "erasure-ledger/t/" + "2".zfill(20)
        with pytest.raises(S3Error) as refused:
            ledger._client._put_object(ledger.bucket, name, b"{}",
                                       {**headers, "If-None-Match": "*"})
        assert refused.value.code == "PreconditionFailed"
        ledger._client._put_object(ledger.bucket, name, b"{}", headers)  # without: written
        with pytest.raises(LedgerError, match="entry 2 was overwritten"):
            list(ledger.entries())
    finally:
        made.close()


def test_the_s3_head_follows_another_nodes_erasure_without_listing(tmp_path: Path) -> None:
    made = Ledgers("s3", tmp_path)
    try:
        mine, other = made.open(), made.open()
        with made.catalogs[1].write() as conn:
            mine.record("purge", ["a"], reason="erasure", conn=conn)
        assert mine.head() is not None
        assert isinstance(mine, S3Ledger)
        listed: list[str] = []
        real = mine._client.list_objects

        def counting(*args: object, **kwargs: object) -> object:
            listed.append(str(kwargs.get("prefix")))
            return real(*args, **kwargs)

        mine._client.list_objects = counting  # type: ignore[method-assign]
        for _ in range(20):
            mine.head()
        assert listed == []  # asked on every audited write: no listing
        with made.catalogs[2].write() as conn:
            written = other.record("purge", ["b"], reason="erasure", conn=conn)
        assert mine.head() == written  # the bookmark moved: entry 2 read once
        assert all(p.endswith(f"{2:020d}") for p in listed)
    finally:
        made.close()


def test_s3_appends_from_two_nodes_on_postgresql_keep_one_chain(tmp_path: Path) -> None:
    """Two nodes on one PostgreSQL catalog: the ``ledger`` lock serialises them."""
    made = Ledgers("s3", tmp_path, postgres_database())
    try:
        test_two_appenders_racing_never_fork_the_chain(made)
    finally:
        made.close()


# -- through the archive ------------------------------------------------------------------


def test_audit_verify_notices_erasures_cut_off_the_ledgers_end(archive: Archive) -> None:
    """The ledger's own chain cannot show a cut end; the audit anchor names its head."""
    for customer in ("anna@customer.nl", "bob@other.nl"):
        archive.ingest(email_item(customer=customer, body="hello"))
        rights.erase_subject(archive, customer, actor="dpo")
    assert archive.audit.verify().ok
    ledger = archive.vault.ledger
    assert isinstance(ledger, FileLedger)
    lines = ledger.path.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2
    ledger.path.write_bytes(b"".join(lines[:-1]))
    report = archive.audit.verify()
    assert not report.ok and "cut off its end" in (report.problem or "")
    ledger.path.write_bytes(b"")
    assert "cut off its end" in (archive.audit.verify().problem or "")


def test_the_bookmark_only_moves_forward(tmp_path: Path) -> None:
    """A node that read the head just before another node's erasure committed must not
    make the catalog look behind that erasure."""
    made = Ledgers("memory", tmp_path)
    try:
        with made.catalog.write() as conn:
            tables.set_applied(conn, (5, "e5"))
            tables.set_applied(conn, (4, "e4"))
            assert tables.applied(conn) == (5, "e5")
            tables.set_applied(conn, (6, "e6"))
            assert tables.applied(conn) == (6, "e6")
    finally:
        made.close()


def test_an_unreachable_s3_ledger_refuses_the_erasure_for_now(tmp_path: Path) -> None:
    """No entry, no erasure: the transaction rolls back and the caller may retry."""
    import socket

    from archive.errors import TemporaryFailure

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    catalog = Catalog(sqlite_url(tmp_path / "catalog.sqlite"))
    catalog.create_schema()
    try:
        ledger = S3Ledger(closed, access_key="a", secret_key="b", secure=False,
                          bucket="nowhere", prefix="erasure-ledger/t", key=KEY,
                          catalog=catalog)
        with pytest.raises(TemporaryFailure, match="S3 erasure ledger"), \
                catalog.write() as conn:
            ledger.record("purge", ["a"], reason="erasure", conn=conn)
        with catalog.read() as conn:
            assert tables.applied(conn) is None
    finally:
        catalog.dispose()
