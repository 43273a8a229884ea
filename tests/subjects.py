"""A mixed archive of e-mails and calls from three data subjects (fixtures ``parch``, ``mixed``)."""

from __future__ import annotations

import io
import uuid
import wave
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive import rights
from archive.config import ArchiveConfig, Role, TaggingRule
from archive.model import AddressKind, Channel, Direction, NewItem, Party, PartyRole, Section, Side
from archive.service import Archive
from archive.users import User
from tests.conftest import TEST_CONFIG, email_item, make_archive

ORDERS_MAILBOX = "orders@example.com"

#: Quality and training for everything; order e-mails are also kept for the legal obligation.
PRIVACY_CONFIG = TEST_CONFIG.model_copy(update={
    "rules": (
        TaggingRule(purposes=("quality", "training")),
        TaggingRule(purposes=("legal",), mailbox=ORDERS_MAILBOX),
    ),
})
assert isinstance(PRIVACY_CONFIG, ArchiveConfig)

#: Recent enough that no retention has ended in real time when the tests run.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)


@dataclass(frozen=True)
class Subject:
    email: str
    phone: str
    customer_number: str
    name: str


A = Subject("anna@customer.nl", "+31612345678", "K-1001", "Anna")
B = Subject("bob@other.nl", "+31687654321", "K-2002", "Bob")
C = Subject("carla@third.nl", "+31611112222", "K-3003", "Carla")


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    frames = int(seconds * rate)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00\xff\xff" * frames)
    return buf.getvalue()


def call_item(subject: Subject, *, started_at: datetime, words: str = "my router is broken",
              agent: str = "+31205550100") -> NewItem:
    call_id = uuid.uuid4().hex
    return NewItem(
        channel=Channel.CALL, original=wav_bytes(), content_type="audio/wav", source="test",
        started_at=started_at, ended_at=started_at + timedelta(seconds=42),
        direction=Direction.INBOUND,
        parties=[
            Party(PartyRole.CALLER, subject.phone, AddressKind.PHONE, subject.name,
                  Side.CUSTOMER, 1),
            Party(PartyRole.CALLEE, agent, AddressKind.PHONE, "Agent Smith", Side.AGENT, 0),
        ],
        details={"call_id": call_id, "title": f"Call from {subject.name}",
                 "channels": [{"index": 0, "side": "agent"}, {"index": 1, "side": "customer"}]},
        sections=[Section("parties", f"{subject.phone} {subject.name} {agent}")],
        dedupe_key=f"call:{call_id}", transcribe=True,
        subject_ids=[(AddressKind.CUSTOMER_NUMBER, subject.customer_number)],
    )


def transcribe(archive: Archive, item_id: str, words: str) -> None:
    tokens = words.split()
    transcript = {
        "speakers": [{"label": "customer", "channel": 1, "words": [
            {"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4, "conf": 1.0}
            for i, w in enumerate(tokens)],
            "utterances": [{"start": 0.0, "end": len(tokens) * 0.5, "text": words}]}],
    }
    archive.attach_transcript(item_id, transcript,
                              [Section("transcript", words, "customer", 0.0)], words)


@dataclass
class Mixed:
    archive: Archive
    items: dict[str, list[str]] = field(default_factory=dict)
    #: A's order e-mail (carries the legal purpose).
    a_order: str = ""
    #: B's e-mail that mentions A's customer number in its body.
    users: dict[str, User] = field(default_factory=dict)


def build_mixed(archive: Archive) -> Mixed:
    mixed = Mixed(archive)
    for subj in (A, B, C):
        ids: list[str] = []
        for n in range(2):
            new = email_item(subject=f"Question {n} from {subj.name}",
                             body=f"Hello, this is {subj.name}. My modem number {n} fails.",
                             customer=subj.email, started_at=T0 + timedelta(days=n))
            ids.append(archive.ingest(new).item_id)
        call = archive.ingest(call_item(subj, started_at=T0 + timedelta(days=3))).item_id
        transcribe(archive, call, f"hello this is {subj.name.lower()} my router is broken")
        ids.append(call)
        mixed.items[subj.email] = ids
    # A's order e-mail: kept for the legal obligation.
    order = email_item(subject="Order 77", body="Please deliver the router.",
                       customer=A.email, agent=ORDERS_MAILBOX, started_at=T0)
    mixed.a_order = archive.ingest(order).item_id
    mixed.items[A.email].append(mixed.a_order)
    # An internal note that mentions A's customer number (no party is A).
    note = email_item(subject="Escalation", body=f"Customer {A.customer_number} needs a callback.",
                      customer="teamlead@example.com", agent="support@example.com",
                      started_at=T0)
    note.parties = [
        Party(PartyRole.FROM, "teamlead@example.com", AddressKind.EMAIL, None, Side.AGENT),
        Party(PartyRole.TO, "support@example.com", AddressKind.EMAIL, None, Side.AGENT),
    ]
    mixed.items["mention"] = [archive.ingest(note).item_id]
    mixed.items[A.email].extend(mixed.items["mention"])
    for role in Role:
        mixed.users[role.value] = User(f"{role.value}-user", role)
    return mixed


@pytest.fixture
def parch(tmp_path: Path) -> Iterator[Archive]:
    arc = make_archive(tmp_path / "data", config=PRIVACY_CONFIG)
    yield arc
    arc.close()


@pytest.fixture
def mixed(parch: Archive) -> Mixed:
    return build_mixed(parch)


PRIVACY = User("p", Role.PRIVACY)
QUALITY = User("q", Role.QUALITY)
TRAINER = User("t", Role.TRAINER)
LEGAL = User("l", Role.LEGAL)
ALL_OF_A = [A.email, A.phone, A.customer_number]


def export_zip(archive: Archive, identifier: str | list[str]) -> zipfile.ZipFile:
    """A subject's access export, as the ZIP the subject receives."""
    buf = io.BytesIO()
    rights.export_subject(archive, identifier, buf, actor="dpo")
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))
