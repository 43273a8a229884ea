"""The labelled evaluation corpus of the anonymised view (issue 17).

Sixty e-mails and thirty call transcripts, twenty and ten per language (Dutch,
French, English), written for the project as a Benelux telecom's customers write
and speak: invoices, moves, outages, cancellations after a death, complaints,
number porting, direct debits, business lines. Every person is invented; the
identifiers are invented but valid (IBAN, BSN and Belgian national numbers pass
their checksums, so validation is not what hides them).

The corpus was written and committed before the recognisers were measured on it,
and is not changed to suit them (``bench/RESULTS.md`` has the figures before and
after the recognisers were improved).

Format (one ``*.txt`` per language and channel): a document starts with

    === <id> | email|call | <lang> | <topic> | <customer name> | <customer address>

an e-mail continues with ``Subject: ...`` and its body; a call with one utterance
a line, ``A:`` (agent) or ``C:`` (customer), lowercase and with numbers as words,
as a speech recogniser writes them. Personal data is marked ``{X|text}`` where X
is the category's letter (``CODES``). Unmarked dates, amounts and invoice numbers
are not personal data on their own and are left unmarked on purpose: redacting
them counts against precision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

CORPUS_DIR: Final = Path(__file__).parent
#: Marker letter -> category (the categories of ``archive.anonymise.CATEGORIES``).
CODES: Final = {"P": "person", "A": "address", "Z": "postcode", "I": "iban", "T": "phone",
                "E": "email", "N": "national_id", "D": "date_of_birth",
                "C": "customer_number"}
_MARK: Final = re.compile(r"\{([A-Z])\|([^{}]*)\}")


@dataclass(frozen=True)
class Gold:
    """One annotated piece of personal data: where it is in ``LabelledDoc.text``."""

    start: int
    end: int
    category: str
    text: str


@dataclass(frozen=True)
class LabelledDoc:
    id: str
    kind: str  # "email" or "call"
    lang: str
    topic: str
    customer_name: str
    customer_address: str
    #: E-mail: subject, blank line, body. Call: the utterances, one a line.
    text: str
    gold: tuple[Gold, ...]
    #: Call only: (speaker, start, end) of each utterance in ``text``.
    utterances: tuple[tuple[str, int, int], ...] = ()


def _unmark(marked: str) -> tuple[str, list[Gold]]:
    out: list[str] = []
    gold: list[Gold] = []
    pos = length = 0
    for m in _MARK.finditer(marked):
        out.append(marked[pos:m.start()])
        length += m.start() - pos
        code, value = m.group(1), m.group(2)
        if code not in CODES:
            raise ValueError(f"unknown category letter {code!r} in {m.group()!r}")
        gold.append(Gold(length, length + len(value), CODES[code], value))
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(marked[pos:])
    text = "".join(out)
    if "{" in text or "}" in text:
        raise ValueError(f"unbalanced marker in {marked[:60]!r}")
    return text, gold


def _parse(header: str, lines: list[str]) -> LabelledDoc:
    fields = [f.strip() for f in header.removeprefix("===").split("|")]
    if len(fields) != 6:
        raise ValueError(f"bad header {header!r}")
    doc_id, kind, lang, topic, name, address = fields
    if kind == "email":
        if not lines or not lines[0].startswith("Subject: "):
            raise ValueError(f"{doc_id}: an e-mail starts with its Subject line")
        body = "\n".join(lines[1:]).strip("\n")
        text, gold = _unmark(f"{lines[0].removeprefix('Subject: ')}\n\n{body}")
        return LabelledDoc(doc_id, kind, lang, topic, name, address, text, tuple(gold))
    utterances: list[tuple[str, int, int]] = []
    parts: list[str] = []
    gold = []
    offset = 0
    for line in (ln for ln in lines if ln.strip()):
        speaker = {"A:": "agent", "C:": "customer"}.get(line[:2])
        if speaker is None:
            raise ValueError(f"{doc_id}: an utterance starts with A: or C:, not {line!r}")
        text, found = _unmark(line[2:].strip())
        gold += [Gold(g.start + offset, g.end + offset, g.category, g.text) for g in found]
        utterances.append((speaker, offset, offset + len(text)))
        parts.append(text)
        offset += len(text) + 1
    return LabelledDoc(doc_id, kind, lang, topic, name, address, "\n".join(parts),
                       tuple(gold), tuple(utterances))


def documents() -> list[LabelledDoc]:
    """Every document of the corpus, in file and then document order."""
    docs: list[LabelledDoc] = []
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        header: str | None = None
        lines: list[str] = []
        for line in [*path.read_text(encoding="utf-8").splitlines(), "=== end"]:
            if line.startswith("=== "):
                if header is not None:
                    docs.append(_parse(header, lines))
                header, lines = line, []
            else:
                lines.append(line)
    return docs
