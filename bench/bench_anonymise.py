"""Precision and recall of the anonymised view per category, on the labelled corpus.

    python bench/bench_anonymise.py [--rounds 20]

Runs every document of the evaluation corpus (``bench/corpus``: 60 e-mails and 30
call transcripts in Dutch, French and English, every piece of personal data
marked) through ``AnonymisedView``, the one object every trainer endpoint uses:
an e-mail's subject and body through ``text``, a call's utterances as transcript
words through ``transcript`` (what a trainer reads and what the audio bleeps).
The customer is the item's party, as the ingester records it.

Recall, per category of the annotation: an annotated span is caught when every
letter and digit of it is inside a redacted span (a person's name: every word
but particles, courtesy titles and lone initials: "van", "mevrouw", "M.").
Precision, per category the view gives: a redacted span is right when it
overlaps an annotated one. Prints both per category and language as Markdown,
the misses and the false alarms, and the redaction rate.

Then the cost that matters on the indexing path, old and new in the same run: the
trainer's redacted copy of a 64 KiB e-mail, both the SMTP bench's body
(``bench/bench_smtp.py``) and one made of the ``tests/corpus`` e-mails repeated,
through the previous full-scan redactor (kept as the reference in
``tests/archive/test_redaction_equivalence.py``) and through ``AnonymisedView``;
each figure is the best of ``--rounds`` in milliseconds per 64 KiB.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.anonymise import AnonymisedView, recognisers
from archive.model import AddressKind, Party, PartyRole, Side
from bench import corpus
from bench.bench_smtp import make_message
from tests import corpus as small_corpus
from tests.archive.test_redaction_equivalence import ReferenceRedactor

KIB_64: Final = 64 * 1024


#: Words of a person's annotation that may stay visible: particles and courtesy titles
#: identify nobody ("mevrouw [NAME]" is fully anonymised), nor does a lone initial.
NOT_IDENTIFYING = frozenset({"van", "de", "der", "den", "ter", "ten", "le", "la", "du", "des",
                             "el", "mr", "mrs", "ms", "miss", "dr", "mevrouw", "meneer", "mevr",
                             "dhr", "mw", "mme", "mlle", "madame", "monsieur"})
Predicted = tuple[int, int, str]
#: The corpus telecom's formats, as its operator would configure them
#: (``settings.anonymise.customer_numbers``): customer KL-1234567, contract CT-2025-000123.
CUSTOMER_NUMBERS: Final = [r"KL-?\d{7}", r"CT-\d{4}-\d{6}"]


def view_of(doc: corpus.LabelledDoc) -> AnonymisedView:
    kind = AddressKind.EMAIL if doc.kind == "email" else AddressKind.PHONE
    return AnonymisedView([Party(PartyRole.FROM, doc.customer_address, kind,
                                 doc.customer_name, Side.CUSTOMER)], language=doc.lang)


def predicted(doc: corpus.LabelledDoc) -> list[Predicted]:
    """(start, end, category) of what the trainer's view redacts, in ``doc.text``."""
    view = view_of(doc)
    if doc.kind == "email":
        return [(s.start, s.end, s.category) for s in view.redactor.spans(doc.text)]
    # A call: each speaker's words, numbered by their index as their time.
    speakers: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for speaker, start, end in doc.utterances:
        for m in re.finditer(r"\S+", doc.text[start:end]):
            speakers[speaker].append((start + m.start(), start + m.end()))
    out: list[Predicted] = []
    transcript = {"speakers": [
        {"speaker": who, "channel": i, "utterances": [],
         "words": [{"word": doc.text[a:b], "start": float(n), "end": n + 0.5, "conf": 1.0}
                   for n, (a, b) in enumerate(words)]}
        for i, (who, words) in enumerate(speakers.items())]}
    shown = view.transcript(transcript)
    for speaker, words in zip(shown["speakers"], speakers.values(), strict=True):
        for w in speaker["words"]:
            if w.get("redacted"):
                first, last = int(w["start"]), round(w["end"] - 0.5)
                out.append((words[first][0], words[last][1], str(w.get("category", "?"))))
    return out


def caught(gold: corpus.Gold, spans: list[Predicted], text: str) -> bool:
    covered = [False] * len(text)
    for start, end, _ in spans:
        covered[start:end] = [True] * (end - start)
    for m in re.finditer(r"\w+", text[gold.start:gold.end]):
        word = m.group().casefold()
        if gold.category == "person" and (word in NOT_IDENTIFYING or len(word) == 1):
            continue
        if not all(covered[gold.start + m.start():gold.start + m.end()]):
            return False
    return True


def evaluate(docs: list[corpus.LabelledDoc]) -> tuple[dict[tuple[str, str], list[int]],
                                                        dict[tuple[str, str], list[int]],
                                                        list[str], list[str]]:
    recall: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    precision: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    missed: list[str] = []
    alarms: list[str] = []
    for doc in docs:
        spans = predicted(doc)
        for gold in doc.gold:
            hit = caught(gold, spans, doc.text)
            for key in ((gold.category, doc.lang), (gold.category, "all"), ("ALL", doc.lang),
                        ("ALL", "all")):
                recall[key][0] += hit
                recall[key][1] += 1
            if not hit:
                missed.append(f"{doc.id}: {gold.category} {gold.text!r}")
        for start, end, category in spans:
            right = any(g.start < end and start < g.end for g in doc.gold)
            for key in ((category, doc.lang), (category, "all"), ("ALL", doc.lang),
                        ("ALL", "all")):
                precision[key][0] += right
                precision[key][1] += 1
            if not right:
                alarms.append(f"{doc.id}: {category} {doc.text[start:end]!r}")
    return recall, precision, missed, alarms


def table(title: str, counts: dict[tuple[str, str], list[int]]) -> None:
    print(f"| {title} | nl | fr | en | all |")
    print("|---|---|---|---|---|")
    kinds = [*sorted({k for k, _ in counts} - {"ALL"}), "ALL"]
    for kind in kinds:
        cells = []
        for lang in ("nl", "fr", "en", "all"):
            got, total = counts.get((kind, lang), [0, 0])
            cells.append(f"{got / total:.2f} ({got}/{total})" if total else "-")
        print(f"| {kind} | " + " | ".join(cells) + " |")


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
    mails = [d for d in small_corpus.documents() if d.kind == "email"]
    corpus_text = "\n\n".join(d.text() for d in mails)
    corpus_text = (corpus_text * (KIB_64 // len(corpus_text) + 1))[:KIB_64]
    parties = [Party(PartyRole.FROM, "customer1@customer.nl", AddressKind.EMAIL, "Customer 1",
                     Side.CUSTOMER),
               Party(PartyRole.TO, "support@example.com", AddressKind.EMAIL, None, Side.AGENT)]
    print("\n| 64 KiB text | old full scan, ms | new, ms | speed-up |")
    print("|---|---|---|---|")
    for name, text in (("SMTP bench body", smtp_text), ("corpus e-mails repeated", corpus_text)):
        old, new = ReferenceRedactor.for_parties(parties), AnonymisedView(parties)
        scale = KIB_64 / len(text.encode())
        old_ms = best_ms(lambda: old.redact(text), rounds) * scale  # noqa: B023
        new_ms = best_ms(lambda: new.text(text), rounds) * scale  # noqa: B023
        print(f"| {name} | {old_ms:.1f} | {new_ms:.1f} | {old_ms / new_ms:.0f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--customer-numbers", nargs="*", default=CUSTOMER_NUMBERS,
                        help="the operator's customer/contract number formats (regex)")
    args = parser.parse_args()
    recognisers.configure(customer_numbers=args.customer_numbers)
    docs = corpus.documents()
    recall, precision, missed, alarms = evaluate(docs)
    table("recall", recall)
    print()
    table("precision", precision)
    chars = sum(len(d.text) for d in docs)
    best = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        for doc in docs:
            predicted(doc)
        best = min(best, time.perf_counter() - started)
    print(f"\n{len(docs)} documents, {chars} characters, redacted at "
          f"{chars / best / 1000:.0f} k chars/s (best of {args.rounds})")
    for title, lines in (("Missed", missed), ("False alarms", alarms)):
        if lines:
            print(f"\n{title} ({len(lines)}):")
            for line in lines:
                print(f"- {line}")
    bench_64k(args.rounds)


if __name__ == "__main__":
    main()
