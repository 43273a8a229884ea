"""Recall of the anonymised view on the labelled corpus, per kind of personal data.

    python bench/bench_anonymise.py [--rounds 20]

Runs every corpus document (``tests/corpus``: Dutch, French and English e-mails
and call transcripts) through ``AnonymisedView``, the one function every trainer
endpoint uses, and counts an annotated span as caught when none of it, in any
spacing or case, is left in the view's text (e-mail subject and body; a call's
transcript words and utterances); a name only when none of its words is left
(so "David Taylor" shown as "David [CUSTOMER-1]" is a miss). Prints a Markdown
table of recall per kind and language, and the redaction rate in characters per
second (best of ``--rounds``).

Then the cost that matters on the indexing path, old and new in the same run: the
trainer's redacted copy of a 64 KiB e-mail, both the SMTP bench's body
(``bench/bench_smtp.py``) and one made of the corpus e-mails repeated (dense with
personal data), through the previous full-scan redactor (kept as the reference in
``tests/archive/test_redaction_equivalence.py``) and through ``AnonymisedView``;
each figure is the best of ``--rounds`` in milliseconds per 64 KiB, and both must
give the same text.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.anonymise import AnonymisedView
from archive.model import AddressKind, Party, PartyRole, Side
from bench.bench_smtp import make_message
from tests import corpus
from tests.archive.test_redaction_equivalence import ReferenceRedactor

KIB_64: Final = 64 * 1024


def view_of(doc: corpus.Doc) -> AnonymisedView:
    kind = AddressKind.EMAIL if doc.kind == "email" else AddressKind.PHONE
    return AnonymisedView([Party(PartyRole.FROM, doc.customer["address"], kind,
                                 doc.customer["name"], Side.CUSTOMER)])


def shown(doc: corpus.Doc) -> str:
    view = view_of(doc)
    if doc.kind == "email":
        return view.email_text({"sections": [
            {"kind": "subject", "text": doc.raw["subject"]},
            {"kind": "body", "text": doc.raw["body"]}]})
    transcript, _sections = corpus._transcript(doc.raw["utterances"])
    return json.dumps(view.transcript(transcript), ensure_ascii=False)


PARTICLES = frozenset({"van", "de", "der", "den", "le", "la", "du", "el"})


def caught(kind: str, value: str, text: str) -> bool:
    if kind != "name":
        return corpus.squash(value) not in corpus.squash(text)
    words = set(re.findall(r"\w+", text.casefold()))
    return not any(w in words for w in re.findall(r"\w+", value.casefold())
                   if w not in PARTICLES)


def best_ms(work: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def bench_64k(rounds: int) -> None:
    """Old (full scan) against new (candidate starts), same run, same texts."""
    message = make_message(KIB_64, 1, 1).decode()
    head, body = message.split("\r\n\r\n", 1)
    subject = next(h for h in head.split("\r\n") if h.startswith("Subject: "))[9:]
    smtp_text = f"{subject}\n\n{body.replace(chr(13), '')}"
    mails = [d for d in corpus.documents() if d.kind == "email"]
    corpus_text = "\n\n".join(d.text() for d in mails)
    corpus_text = (corpus_text * (KIB_64 // len(corpus_text) + 1))[:KIB_64]
    parties = [Party(PartyRole.FROM, "customer1@customer.nl", AddressKind.EMAIL, "Customer 1",
                     Side.CUSTOMER),
               Party(PartyRole.TO, "support@example.com", AddressKind.EMAIL, None, Side.AGENT)]
    print("\n| 64 KiB text | old full scan, ms | new, ms | speed-up |")
    print("|---|---|---|---|")
    for name, text in (("SMTP bench body", smtp_text), ("corpus e-mails repeated", corpus_text)):
        old, new = ReferenceRedactor.for_parties(parties), AnonymisedView(parties)
        assert old.redact(text) == new.text(text), name
        scale = KIB_64 / len(text.encode())
        old_ms = best_ms(lambda: old.redact(text), rounds) * scale  # noqa: B023
        new_ms = best_ms(lambda: new.text(text), rounds) * scale  # noqa: B023
        print(f"| {name} | {old_ms:.1f} | {new_ms:.1f} | {old_ms / new_ms:.0f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    docs = corpus.documents()
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    missed: list[str] = []
    for doc in docs:
        text = shown(doc)
        for pii in doc.pii:
            hit = caught(pii["kind"], pii["text"], text)
            for key in ((pii["kind"], doc.lang), (pii["kind"], "all")):
                counts[key][0] += hit
                counts[key][1] += 1
            if not hit:
                missed.append(f"{doc.id}: {pii['kind']} {pii['text']!r}")
    chars = sum(len(d.text()) for d in docs)
    best = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        for doc in docs:
            shown(doc)
        best = min(best, time.perf_counter() - started)
    kinds = sorted({k for k, _ in counts})
    print("| kind | nl | fr | en | all |")
    print("|---|---|---|---|---|")
    for kind in kinds:
        cells = []
        for lang in ("nl", "fr", "en", "all"):
            got, total = counts.get((kind, lang), [0, 0])
            cells.append(f"{got}/{total}" if total else "-")
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print(f"\n{len(docs)} documents, {chars} characters, redacted at "
          f"{chars / best / 1000:.0f} k chars/s (best of {args.rounds})")
    if missed:
        print("\nMissed:")
        for line in missed:
            print(f"- {line}")
    bench_64k(args.rounds)


if __name__ == "__main__":
    main()
