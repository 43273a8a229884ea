"""``commarchive ingest``: e-mails and recordings are archived, anything else is refused
with the file and the reason unless ``--force``, and an unparsed item is said to be one."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.model import ItemStatus
from commarchive import runtime
from commarchive.settings import Settings
from tests.commarchive.cli.test_cli import SAMPLE_MAIL, cli, data_dir  # noqa: F401  (fixture)
from tests.ingest.formats import KINDS, encode, speech_wav, truncated

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256)) * 4


def _statuses(directory: Path) -> list[ItemStatus]:
    arc = runtime.open_archive(Settings(data_dir=directory))
    try:
        return [r.status for r in arc.list_records()]
    finally:
        arc.close()


@pytest.mark.parametrize(
    ("name", "data", "looks_like"),
    [
        ("invoice.pdf", PDF, "a PDF document"),
        ("notes.txt", b"Call Piet back about the modem.\nHe is home after five.\n",
         "text without mail headers"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(500), "a PNG image"),
        ("half.eml", b"From: piet@klant.nl\r\nthis line is no header\r\n\r\nbody\r\n",
         "text without mail headers"),
        ("inbox.mbox", b"From piet@klant.nl Tue Nov  3 10:00:00 2026\r\n" + SAMPLE_MAIL,
         "an mbox mailbox"),
    ],
)
def test_a_file_that_is_neither_mail_nor_a_recording_is_refused_with_its_name_and_reason(
    data_dir: Path, tmp_path: Path, name: str, data: bytes, looks_like: str  # noqa: F811
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    proc = cli("ingest", str(path), data_dir=data_dir, check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {name}: neither an RFC 5322 message nor a recording; "
                           f"it looks like {looks_like}")
    assert "--force" in line
    assert _statuses(data_dir) == []
    # Naming the channel does not make a PDF an e-mail.
    again = cli("ingest", str(path), "--channel", "email", data_dir=data_dir, check=False)
    assert again.returncode == 1 and _statuses(data_dir) == []


def test_forced_file_is_stored_unparsed_and_says_so(data_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "invoice.pdf"
    path.write_bytes(PDF)
    proc = cli("ingest", str(path), "--force", data_dir=data_dir)
    item_id = proc.stdout.strip()
    assert item_id and "\n" not in item_id
    assert proc.stderr.startswith(f"unparsed: invoice.pdf is stored byte-exact as item {item_id}")
    assert "no_headers" in proc.stderr and "privacy and legal" in proc.stderr
    assert _statuses(data_dir) == [ItemStatus.UNPARSED]


def test_mail_is_archived_quietly(data_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    mail = tmp_path / "m.eml"
    mail.write_bytes(SAMPLE_MAIL)
    proc = cli("ingest", str(mail), data_dir=data_dir)
    assert proc.stdout.strip() and proc.stderr == ""
    assert _statuses(data_dir) == [ItemStatus.OK]


def test_recordings_in_pbx_formats_are_calls_and_a_broken_one_is_named(
    data_dir: Path, tmp_path: Path  # noqa: F811
) -> None:
    speech = speech_wav(tmp_path / "speech")
    gsm = next(k for k in KINDS if k.id == "gsm")
    mp3 = next(k for k in KINDS if k.id == "mp3")
    path = tmp_path / "asterisk-wav49.WAV"
    path.write_bytes(encode(gsm, speech, tmp_path))
    proc = cli("ingest", str(path), data_dir=data_dir)
    assert proc.stdout.strip() and proc.stderr == ""

    broken = tmp_path / "cut.mp3"
    broken.write_bytes(truncated(encode(mp3, speech, tmp_path)))
    proc = cli("ingest", str(broken), data_dir=data_dir, check=False)
    assert proc.returncode == 1
    # (libmpg123 may print a warning of its own before it)
    assert proc.stderr.splitlines()[-1].startswith("error: cut.mp3: audio: MP3: cannot be decoded")
    assert _statuses(data_dir) == [ItemStatus.OK]
