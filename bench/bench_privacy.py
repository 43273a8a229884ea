"""Privacy operations at scale: export a subject with N items, and the sweep rate.

    python bench/bench_privacy.py [--items 1000] [--others 1000] [--calls-every 5]

Builds a fresh archive in a temporary directory (local store, SQLite catalog and
FTS5 index: the embedded defaults), with one data subject owning ``--items``
items (e-mails, and every ``--calls-every``-th a 10 s stereo 8 kHz WAV call with a
transcript) among ``--others`` items of other subjects. Then times:

* the subject lookup and the export ZIP (streamed into a file, as the CLI does);
* three sweeps with the clock moved forward: quality ends (one tag dropped per
  item), training ends (another), legal ends (every item purged to a tombstone).

Prints a Markdown table; sweep rates are items per second over all items swept.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keys
from archive.catalog import Catalog, sqlite_url
from archive.config import ArchiveConfig
from archive.index.sqlite import SqliteIndex
from archive.model import AddressKind, Channel, Direction, NewItem, Party, PartyRole, Section, Side
from archive.retention import sweep
from archive.rights import export_subject, find_subject
from archive.service import Archive
from archive.store.local import LocalStore

SUBJECT = "anna@customer.nl"
SUBJECT_PHONE = "+31612345678"


def _wav(seconds: float) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(os.urandom(int(seconds * 8000) * 4))  # noise: audio barely compresses
    return buf.getvalue()


def _email(customer: str, n: int, started: datetime) -> NewItem:
    mid = f"<{uuid.uuid4().hex}@customer.nl>"
    body = f"Hello, this is message {n}. My fibre line drops every evening. " * 20
    raw = (f"From: <{customer}>\r\nTo: support@example.com\r\nSubject: Ticket {n}\r\n"
           f"Message-ID: {mid}\r\n\r\n{body}\r\n").encode()
    return NewItem(
        channel=Channel.EMAIL, original=raw, content_type="message/rfc822", source="bench",
        started_at=started, direction=Direction.INBOUND,
        parties=[Party(PartyRole.FROM, customer, AddressKind.EMAIL, None, Side.CUSTOMER),
                 Party(PartyRole.TO, "support@example.com", AddressKind.EMAIL, None,
                       Side.AGENT)],
        details={"subject": f"Ticket {n}", "message_id": mid},
        sections=[Section("subject", f"Ticket {n}"), Section("body", body)],
        dedupe_key=f"msgid:{mid}",
    )


def _call(phone: str, started: datetime, audio: bytes) -> NewItem:
    call_id = uuid.uuid4().hex
    return NewItem(
        channel=Channel.CALL, original=audio, content_type="audio/wav", source="bench",
        started_at=started, ended_at=started + timedelta(seconds=10),
        direction=Direction.INBOUND,
        parties=[Party(PartyRole.CALLER, phone, AddressKind.PHONE, None, Side.CUSTOMER, 1),
                 Party(PartyRole.CALLEE, "+31205550100", AddressKind.PHONE, None, Side.AGENT, 0)],
        details={"call_id": call_id}, dedupe_key=f"call:{call_id}", transcribe=True,
        subject_ids=[(AddressKind.EMAIL, SUBJECT)] if phone == SUBJECT_PHONE else [],
    )


def build(data_dir: Path) -> Archive:
    config = ArchiveConfig(internal_numbers=("+3120555",))
    ring = keys.Keyring.create(data_dir / "keyring.sealed", keys.new_dek())
    for p in config.purposes:
        ring.ensure_purpose(p.name)
    catalog = Catalog(sqlite_url(data_dir / "catalog.sqlite"))
    catalog.create_schema()
    index = SqliteIndex(data_dir / "index.sqlite")
    index.ensure()
    return Archive(data_dir=data_dir, config=config, catalog=catalog,
                   store=LocalStore(data_dir / "blobs"), index=index, keyring=ring)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--others", type=int, default=1000)
    parser.add_argument("--calls-every", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        arc = build(data_dir)
        t0 = datetime.now(UTC) - timedelta(days=1)
        audio = _wav(10.0)
        words = ["hello", "my", "fibre", "line", "drops", "every", "evening"]
        transcript = {"channels": [{"index": 1, "words": [
            {"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4} for i, w in enumerate(words)]}]}
        started = time.perf_counter()
        for n in range(args.items + args.others):
            mine = n < args.items
            if n % args.calls_every == 0:
                phone = SUBJECT_PHONE if mine else f"+316{20000000 + n}"
                item_id = arc.ingest(_call(phone, t0, audio)).item_id
                arc.attach_transcript(item_id, transcript,
                                      [Section("transcript", " ".join(words), "customer", 0.0)],
                                      " ".join(words))
            else:
                arc.ingest(_email(SUBJECT if mine else f"other{n}@example.org", n, t0))
        ingest_s = time.perf_counter() - started
        total = args.items + args.others

        started = time.perf_counter()
        match = find_subject(arc, SUBJECT)
        lookup_s = time.perf_counter() - started
        assert len(match.item_ids) == args.items, (len(match.item_ids), args.items)
        out = data_dir / "export.zip"
        started = time.perf_counter()
        with out.open("wb") as fh:
            export_subject(arc, SUBJECT, fh, actor="bench")
        export_s = time.perf_counter() - started
        size_mb = out.stat().st_size / 1e6
        out.unlink()

        rows = []
        for label, days in (("quality ends (drop 1 tag/item)", 91),
                            ("training ends (drop 1 tag/item)", 366),
                            ("legal ends (purge every item)", 2556)):
            report = sweep(arc, now=t0 + timedelta(days=days), actor="bench")
            rows.append((label, report.examined, report.seconds))
        assert arc.item_ids() == []
        arc.close()

    print(f"archive: {total} items ({args.items} of the subject; every "
          f"{args.calls_every}th a 10 s call), ingested in {ingest_s:.1f} s\n")
    print("| operation | items | seconds | items/s |")
    print("|---|---|---|---|")
    print(f"| subject lookup (party + mentions) | {args.items} | {lookup_s:.2f} | "
          f"{args.items / lookup_s:.0f} |")
    print(f"| export ZIP ({size_mb:.1f} MB) | {args.items} | {export_s:.2f} | "
          f"{args.items / export_s:.0f} |")
    for label, n, secs in rows:
        print(f"| sweep: {label} | {n} | {secs:.2f} | {n / secs:.0f} |")


if __name__ == "__main__":
    main()
