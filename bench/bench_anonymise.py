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
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.anonymise import AnonymisedView
from archive.model import AddressKind, Party, PartyRole, Side
from tests import corpus


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


if __name__ == "__main__":
    main()
