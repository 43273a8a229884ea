"""The erasure ledger: chained lines, a head the audit anchor names, safe appends.

A backup taken before an erasure is made safe by replaying this ledger, so a
ledger that silently lost lines would bring erased people back on restore.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive import rights
from archive.ledger import ErasureLedger, LedgerError
from archive.service import Archive
from tests.conftest import email_item

KEY = b"k" * 32


def _three(path: Path) -> ErasureLedger:
    ledger = ErasureLedger(path, KEY)
    for n in range(3):
        ledger.record("purge", [f"item-{n}"], reason="erasure", reference=f"req-{n}")
    return ledger


def test_lines_are_chained_so_removing_or_reordering_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.erasures"
    ledger = _three(path)
    assert [e.item_ids for e in ledger.entries()] == [("item-0",), ("item-1",), ("item-2",)]
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[2])  # the middle erasure removed
    with pytest.raises(LedgerError, match="line 2 does not follow line 1"):
        list(ledger.entries())
    path.write_bytes(lines[1] + lines[0] + lines[2])
    with pytest.raises(LedgerError, match="removed or reordered"):
        list(ledger.entries())


def test_two_writers_of_one_file_keep_one_chain(tmp_path: Path) -> None:
    """A command-line erasure appends while the serving process also does."""
    path = tmp_path / "x.erasures"
    serving, cli = ErasureLedger(path, KEY), ErasureLedger(path, KEY)
    for n in range(4):
        (serving if n % 2 else cli).record("shred", [f"i{n}"], purposes=["training"])
    assert [e.item_ids[0] for e in serving.entries()] == ["i0", "i1", "i2", "i3"]
    assert serving.head() is not None and serving.head() == cli.head()
    assert serving.head()[0] == 4  # type: ignore[index]


def test_a_line_torn_by_a_power_loss_is_cut_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "x.erasures"
    ledger = _three(path)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"entry": "{\\"act')  # written, never completed
    assert len(list(ledger.entries())) == 3
    ledger.record("purge", ["item-3"], reason="erasure")
    assert [e.item_ids[0] for e in ledger.entries()][-1] == "item-3"
    assert path.read_bytes().startswith(whole)


def test_lines_from_before_chaining_are_read_and_continued(tmp_path: Path) -> None:
    """Ledgers written by earlier versions have unchained lines: still valid."""
    import hashlib
    import hmac

    path = tmp_path / "x.erasures"
    body = json.dumps({"at": "2026-11-01T00:00:00+00:00", "action": "purge",
                       "item_ids": ["old"], "purposes": None, "reason": "erasure",
                       "reference": None}, sort_keys=True)
    mac = hmac.new(KEY, b"ledger\n" + body.encode(), hashlib.sha256).hexdigest()
    path.write_bytes(json.dumps({"entry": body, "mac": mac}).encode() + b"\n")
    ledger = ErasureLedger(path, KEY)
    ledger.record("purge", ["new"], reason="erasure")
    assert [e.item_ids[0] for e in ledger.entries()] == ["old", "new"]
    assert ledger.head() is not None and ledger.head()[0] == 2  # type: ignore[index]


def test_audit_verify_notices_erasures_cut_off_the_ledgers_end(archive: Archive) -> None:
    """The ledger's own chain cannot show a cut end; the audit anchor names its head."""
    for customer in ("anna@customer.nl", "bob@other.nl"):
        archive.ingest(email_item(customer=customer, body="hello"))
        rights.erase_subject(archive, customer, actor="dpo")
    assert archive.audit.verify().ok
    path = archive.vault.ledger.path
    assert path is not None
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2
    path.write_bytes(b"".join(lines[:-1]))
    report = archive.audit.verify()
    assert not report.ok and "cut off its end" in (report.problem or "")
    path.write_bytes(b"")
    assert "cut off its end" in (archive.audit.verify().problem or "")
