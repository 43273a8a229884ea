"""A trainer's call streams in ranges: the cost of one range, against bleeping the whole call.

    python bench/bench_audio_range.py [--minutes 60] [--rounds 5]

A browser plays a long call as a stream of HTTP Range requests of about 1 MiB
(``search_api.routers.items.MAX_RANGE_BYTES``), roughly a hundred for an hour of
8 kHz stereo. For a role that reads the call anonymised each range used to be
cut from the whole call, decrypted and bleeped per request; now only the range's
sealed chunks are decrypted and bleeped in place (``bleep_slice``). Both run in
the same archive, through ``Reader``: the baseline is ``read_audio`` (the whole
bleeped call, what every range paid before), the figure ``read_audio_range`` of
one 1 MiB range in the middle. Best of ``--rounds``, milliseconds.
"""

from __future__ import annotations

import argparse
import math
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.config import Role
from archive.model import Section
from archive.reading import RangePick
from archive.users import User
from ingest.audio import write_wav
from ingest.calls import ingest_call_file
from tests.conftest import make_archive

MIB = 1024 * 1024


def _call_wav(minutes: int) -> bytes:
    second = b"".join(struct.pack("<h", int(5000 * math.sin(i / 4))) for i in range(8000))
    pcm = second * (60 * minutes)
    return write_wav(8000, [pcm, pcm])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    wav = _call_wav(args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        arc = make_archive(Path(tmp) / "data")
        sidecar = (b'{"call_id": "bench", "from": "+31612345678", "to": "+31205550100",'
                   b' "agent": "+31205550100", "direction": "inbound",'
                   b' "start": "2026-11-02T09:00:00Z"}')
        item_id = ingest_call_file(arc, wav, sidecar, source="bench", actor="bench").ingest.item_id
        words = [{"word": w, "start": 60.0 * k + 0.5 + i * 0.3, "end": 60.0 * k + 0.8 + i * 0.3,
                  "conf": 1.0}
                 for k in range(args.minutes) for i, w in enumerate(["mijn", "naam", "is",
                                                                     "jansen"])]
        text = " ".join(w["word"] for w in words)
        arc.attach_transcript(item_id, {"speakers": [{"label": "customer", "channel": 0,
                                                      "words": words,
                                                      "utterances": [{"start": 0.5, "end": 1.7,
                                                                      "text": text}]}]},
                              [Section("transcript", text, "customer", 0.5)],
                              f"customer: {text}")
        trainer = User("bench-trainer", Role.TRAINER)
        middle = len(wav) // 2
        pick: RangePick = lambda size: (middle, MIB)  # noqa: E731

        def best(run: object) -> float:
            times = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                run()  # type: ignore[operator]
                times.append(time.perf_counter() - t0)
            return min(times) * 1000

        whole = best(lambda: arc.reader.read_audio(trainer, item_id))
        one = best(lambda: arc.reader.read_audio_range(trainer, item_id, pick))
        arc.close()
    print(f"call: {args.minutes} min, {len(wav) / MIB:.1f} MiB of 8 kHz stereo WAV; "
          f"best of {args.rounds}")
    print(f"| trainer request | ms |\n|---|---|\n"
          f"| whole bleeped call (what each range cost before) | {whole:.1f} |\n"
          f"| one 1 MiB range, bleeped in place | {one:.1f} |")
    ranges = len(wav) / MIB
    print(f"playing the whole call in 1 MiB ranges: {ranges * whole / 1000:.1f} s before, "
          f"{ranges * one / 1000:.2f} s now")


if __name__ == "__main__":
    main()
