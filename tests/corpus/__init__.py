"""A labelled corpus for the anonymised view: e-mails and call transcripts in Dutch,
French and English, written for the tests, with every piece of personal data
annotated by kind (``pii``: the exact text as it occurs).

Structured identifiers (phones, e-mail addresses, IBANs, national numbers, dates
of birth, street addresses, postcodes) must never reach a trainer
(``tests/search_api/test_trainer_corpus.py``); how many names are caught is
measured by ``bench/bench_anonymise.py``. The identifiers are made up but valid
(checksums included), so validation cannot be what hides them.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import wave
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from archive.model import AddressKind, Channel, Direction, NewItem, Party, PartyRole, Section, Side
from archive.service import Archive

CORPUS_DIR: Final = Path(__file__).parent
STRUCTURED: Final = frozenset({"phone", "email", "iban", "national_id", "date_of_birth",
                               "street_address", "postcode"})
AGENT_ADDRESS: Final = "support@example.com"
AGENT_NUMBER: Final = "+31205550100"
WORD_S: Final = 0.4
RATE: Final = 8000


@dataclass(frozen=True)
class Doc:
    id: str
    lang: str
    kind: str
    topic: str
    customer: dict[str, str]
    pii: list[dict[str, str]]
    raw: dict[str, Any]

    def text(self) -> str:
        if self.kind == "email":
            return f"{self.raw['subject']}\n\n{self.raw['body']}"
        return "\n".join(u["text"] for u in self.raw["utterances"])


def documents() -> list[Doc]:
    docs = []
    for path in sorted(CORPUS_DIR.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        docs.append(Doc(raw["id"], raw["lang"], raw["kind"], raw["topic"], raw["customer"],
                        raw["pii"], raw))
    return docs


def squash(text: str) -> str:
    """Letters and digits only, case-folded: how a leak is looked for, whatever the spacing."""
    return re.sub(r"[\W_]+", "", text.casefold())


def ingest(archive: Archive, doc: Doc) -> str:
    """Archive a corpus document (with its transcript, for a call); returns its item id."""
    started = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    customer = doc.customer
    if doc.kind == "email":
        message_id = f"<{uuid.uuid4().hex}@corpus.test>"
        raw = (f"From: {customer['name']} <{customer['address']}>\r\nTo: {AGENT_ADDRESS}\r\n"
               f"Subject: {doc.raw['subject']}\r\nMessage-ID: {message_id}\r\n\r\n"
               f"{doc.raw['body']}\r\n").encode()
        return archive.ingest(NewItem(
            channel=Channel.EMAIL, original=raw, content_type="message/rfc822",
            source="corpus", started_at=started, direction=Direction.INBOUND,
            parties=[Party(PartyRole.FROM, customer["address"], AddressKind.EMAIL,
                           customer["name"], Side.CUSTOMER),
                     Party(PartyRole.TO, AGENT_ADDRESS, AddressKind.EMAIL, None, Side.AGENT)],
            details={"subject": doc.raw["subject"], "message_id": message_id},
            sections=[Section("subject", doc.raw["subject"]), Section("body", doc.raw["body"])],
            dedupe_key=f"msgid:{message_id}",
        )).item_id
    transcript, sections = _transcript(doc.raw["utterances"])
    seconds = max(1.0, max(u["end"] for s in transcript["speakers"] for u in s["utterances"]))
    item_id = archive.ingest(NewItem(
        channel=Channel.CALL, original=_silence(seconds), content_type="audio/wav",
        source="corpus", started_at=started, direction=Direction.INBOUND,
        parties=[Party(PartyRole.CALLER, customer["address"], AddressKind.PHONE,
                       customer["name"], Side.CUSTOMER, 1),
                 Party(PartyRole.CALLEE, AGENT_NUMBER, AddressKind.PHONE, None, Side.AGENT, 0)],
        details={"call_id": doc.id, "title": f"Call about {doc.topic}",
                 "channels": [{"index": 0, "side": "agent"}, {"index": 1, "side": "customer"}]},
        sections=[], dedupe_key=f"call:{doc.id}:{uuid.uuid4().hex}", transcribe=True,
    )).item_id
    archive.attach_transcript(item_id, transcript, sections, doc.text())
    return item_id


def _transcript(utterances: list[dict[str, str]]) -> tuple[dict[str, Any], list[Section]]:
    speakers: dict[str, dict[str, Any]] = {
        label: {"label": label, "channel": channel, "words": [], "utterances": []}
        for label, channel in (("agent", 0), ("customer", 1))}
    sections = []
    at = 0.5
    for u in utterances:
        speaker = speakers[u["speaker"]]
        start = at
        for word in u["text"].split():
            speaker["words"].append({"word": word, "start": round(at, 2),
                                     "end": round(at + WORD_S - 0.05, 2), "conf": 1.0})
            at += WORD_S
        speaker["utterances"].append({"start": round(start, 2), "end": round(at, 2),
                                      "text": u["text"]})
        sections.append(Section("transcript", u["text"], u["speaker"], round(start, 2)))
        at += 0.6
    return ({"speakers": list(speakers.values()), "duration_s": at, "sample_rate": RATE,
             "model": "corpus"}, sections)


def _silence(seconds: float) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"\x00\x00\x00\x00" * int(seconds * RATE))
    return buf.getvalue()
