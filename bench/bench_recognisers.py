"""The anonymised copy's cost on natural text, per recogniser, at 4 KiB and 64 KiB.

    python bench/bench_recognisers.py [--rounds 7] [--language nl] [--profile]

The index document of every e-mail holds its redacted copy (``archive.indexing`` ->
``AnonymisedView``), made in the index outbox after the 250; its cost decides how soon
mail is searchable. The texts are natural e-mails in Dutch, French and English: the
``tests/corpus`` e-mails and the ``bench/corpus`` e-mails, each set joined and repeated
to 4 KiB and to 64 KiB, as ``bench/bench_anonymise.py`` builds its 64 KiB text, with its
parties (a customer "Customer 1" and the support address).

Rows, each the best of ``--rounds`` in milliseconds:

- the whole redacted copy (``AnonymisedView.text``), and the written patterns alone (a
  ``Redactor`` without recognisers; the recognisers cost the difference);
- the words and tokens every recogniser shares (``Context``), made once per text;
- each recogniser of ``recognisers.for_language`` and ``propagate``, on a context with
  those already made and the spans the whole redactor finds (a close stand-in for the
  spans found before it), given the text's scan where the tree shares it.

It uses only what older trees have too, so the same file measures a tree exported
before a change: ``PYTHONPATH=$TREE python bench/bench_recognisers.py``. ``--profile``
adds cProfile's top functions for the 64 KiB ``bench/corpus`` text.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

if not os.environ.get("PYTHONPATH"):  # else: the tree PYTHONPATH names is measured
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.anonymise import AnonymisedView, Redactor, recognisers
from archive.anonymise.recognisers import Context, propagate
from archive.model import AddressKind, Party, PartyRole, Side
from archive.redaction_scan import TextScan
from bench import corpus as labelled
from tests import corpus as small_corpus

SIZES: Final = (4 * 1024, 64 * 1024)
PARTIES: Final = [
    Party(PartyRole.FROM, "customer1@customer.nl", AddressKind.EMAIL, "Customer 1",
          Side.CUSTOMER),
    Party(PartyRole.TO, "support@example.com", AddressKind.EMAIL, None, Side.AGENT)]
#: What the recognisers share, made before the first of them needs it.
SHARED: Final = ("tokens", "token_spans", "lows", "where", "words", "number_words",
                 "given_names", "lowercase")


def texts() -> dict[str, str]:
    sets = {
        "tests/corpus e-mails": "\n\n".join(d.text() for d in small_corpus.documents()
                                            if d.kind == "email"),
        "bench/corpus e-mails": "\n\n".join(d.text for d in labelled.documents()
                                            if d.kind == "email"),
    }
    return {f"{name}, {size // 1024} KiB": (text * (size // len(text) + 1))[:size]
            for name, text in sets.items() for size in SIZES}


def best_ms(work: Callable[[Any], object], rounds: int,
            prepare: Callable[[], Any] = lambda: None) -> float:
    """The best of ``rounds`` runs of ``work(prepare())`` (``prepare`` not timed)."""
    best = float("inf")
    for _ in range(rounds):
        arg = prepare()
        started = time.perf_counter()
        work(arg)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def measure(text: str, language: str | None, rounds: int) -> dict[str, float]:
    redactor = Redactor.for_parties(PARTIES, language=language)
    taken = [(s.start, s.end, s.category) for s in redactor.spans(text)]
    names: frozenset[str] = redactor._names  # the parties' names, as the redactor gives them
    fields = {f.name for f in dataclasses.fields(Context)}

    def context(warm: bool) -> Context:
        extra: dict[str, Any] = {}
        if "given_scan" in fields:  # the redactor shares its scan with the recognisers
            scan = TextScan(text)
            scan.email_starts()  # made for the written patterns already
            extra["given_scan"] = scan
        made = Context(text, language, names, taken, **extra)
        if warm:
            for name in SHARED:
                if hasattr(type(made), name):
                    getattr(made, name)
        return made

    view = AnonymisedView(PARTIES, language=language)
    patterns = Redactor.for_parties(PARTIES, language=language, recognisers=())
    out = {"redacted copy (AnonymisedView.text)": best_ms(lambda _: view.text(text), rounds),
           "written patterns alone": best_ms(lambda _: patterns.spans(text), rounds)}

    def shared(made: Context) -> None:
        for name in SHARED:
            if hasattr(type(made), name):
                getattr(made, name)

    out["shared words and tokens (Context)"] = best_ms(shared, rounds, lambda: context(False))
    for recogniser in recognisers.for_language(language):
        out[recogniser.name] = best_ms(
            lambda made, r=recogniser: list(r.find(made)), rounds, lambda: context(True))
    out["propagate"] = best_ms(lambda made: list(propagate(made)), rounds,
                               lambda: context(True))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--language", default=None, help="the item's language (default: "
                        "none known, every language's words)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    results = {name: measure(text, args.language, args.rounds)
               for name, text in texts().items()}
    names = list(results)
    print(f"tree: {Path(recognisers.__file__).resolve().parents[3]}, language: "
          f"{args.language}, best of {args.rounds}, ms")
    print("| | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for row in results[names[0]]:
        print(f"| {row} | " + " | ".join(f"{results[n][row]:.2f}" for n in names) + " |")
    if args.profile:
        text = texts()["bench/corpus e-mails, 64 KiB"]
        view = AnonymisedView(PARTIES, language=args.language)
        view.text(text)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(5):
            view.text(text)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
