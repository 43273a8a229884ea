"""Trainers hear calls with personal data bleeped, found through the transcript's word times."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from archive.anonymise import Redactor
from archive.config import Role
from archive.errors import AccessDenied
from archive.model import AddressKind, Party, PartyRole, Section, Side
from archive.service import Archive
from ingest.audio import write_wav
from ingest.calls import build_call_item, parse_sidecar, recording_from_file

RATE = 8000


def _call(archive: Archive) -> str:
    rng = np.random.default_rng(7)
    speech = (rng.standard_normal(RATE * 8) * 4000).astype("<i2").tobytes()
    sidecar = parse_sidecar({"call_id": "anon-1", "from": "+31612345678", "from_name": "Kees Klant",
                             "to": "+31205550100", "agent": "+31205550100",
                             "direction": "inbound", "start": "2026-11-02T09:00:00Z"})
    plan = archive.config
    rec = recording_from_file(write_wav(RATE, [speech, speech]), sidecar, source="t", config=plan)
    return archive.ingest(build_call_item(rec, plan)).item_id


def _words(*spec: tuple[str, float]) -> list[dict[str, object]]:
    return [{"word": w, "start": t, "end": t + 0.3, "conf": 1.0} for w, t in spec]


def _channels(wav: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav)) as r:
        return np.frombuffer(r.readframes(r.getnframes()), dtype="<i2").reshape(-1, 2)


def test_trainer_hears_names_and_spoken_numbers_bleeped(archive: Archive) -> None:
    item_id = _call(archive)
    trainer = archive.users.authenticate(archive.users.add("t", Role.TRAINER))
    with pytest.raises(AccessDenied, match="transcript"):
        archive.read_content(trainer, item_id)  # nothing known yet about what to bleep
    customer_words = _words(("this", 1.0), ("is", 1.3), ("kees", 1.6), ("my", 2.5),
                            ("number", 2.8), ("zero", 3.2), ("six", 3.5), ("one", 3.8),
                            ("two", 4.1), ("thanks", 6.0))
    transcript = {"speakers": [{"label": "customer", "channel": 0, "words": customer_words,
                                "utterances": []}]}
    archive.attach_transcript(item_id, transcript, [Section("transcript", "x", "customer", 1.0)],
                              "x")
    original = _channels(archive.read_content(
        archive.users.authenticate(archive.users.add("q", Role.QUALITY)), item_id).data)
    content = archive.read_content(trainer, item_id)
    assert content.anonymised and content.content_type == "audio/wav"
    bleeped = _channels(content.data)
    assert bleeped.shape == original.shape

    def same(start: float, end: float) -> bool:
        lo, hi = int(start * RATE), int(end * RATE)
        return bool(np.array_equal(bleeped[lo:hi], original[lo:hi]))

    assert not same(1.6, 1.9)          # the name
    assert not same(3.2, 4.4)          # four spoken digits
    assert same(0.0, 0.9)              # ordinary speech is untouched
    assert same(2.0, 2.4)
    assert same(6.0, 7.9)
    # A transcript read by a trainer is redacted too.
    text = archive.read_content(trainer, item_id, part="transcript").data.decode()
    assert "kees" not in text.lower()


def test_trainer_gets_no_audio_of_a_call_whose_transcript_is_unsure(archive: Archive) -> None:
    """Bleeping follows the recognised words; where recognition is unsure, a name it
    missed would reach the trainer. Quality staff still hear the recording."""
    item_id = _call(archive)
    words = _words(("this", 1.0), ("is", 1.3), ("kees", 1.6))
    transcript = {"speakers": [{"label": "customer", "channel": 0, "words": words,
                                "utterances": []}],
                  "confidence": 0.41, "low_confidence": True}
    archive.attach_transcript(item_id, transcript, [Section("transcript", "x", "customer", 1.0)],
                              "x")
    trainer = archive.users.authenticate(archive.users.add("t", Role.TRAINER))
    with pytest.raises(AccessDenied, match="low confidence"):
        archive.read_content(trainer, item_id)
    quality = archive.users.authenticate(archive.users.add("q", Role.QUALITY))
    assert archive.read_content(quality, item_id).content_type.startswith("audio/")
    # The trainer may still read the (redacted) transcript, which says it is unsure.
    text = archive.read_content(trainer, item_id, part="transcript").data.decode()
    assert "kees" not in text.lower() and '"low_confidence": true' in text


@pytest.mark.parametrize("text", ["x" * 300_000, "word " * 60_000, "1 " * 100_000,
                                  "0612345678 " * 20_000, "a@b.nl " * 30_000])
def test_long_texts_are_redacted_and_indexed_in_linear_time(archive: Archive, text: str) -> None:
    import time

    from archive.anonymise import AnonymisedView
    from archive.indexing import mentions_in

    started = time.perf_counter()
    AnonymisedView([]).text(text)
    mentions_in(archive.config, [Section("body", text)])
    assert time.perf_counter() - started < 10  # quadratic patterns took minutes


def test_a_redactor_keeping_the_requesters_forms_redacts_everyone_else() -> None:
    """Art. 15(4): in Anna's copy of Bob's mail, Bob goes and Anna's own number stays,
    even where a cue ("my neighbour ...") would otherwise take it for a name."""
    bob = Party(PartyRole.FROM, "bob@other.nl", AddressKind.EMAIL, "Bob Jansen", Side.CUSTOMER)
    text = "Bob Jansen (bob@other.nl, +31687654321) says my neighbour K-1001 is +31612345678"
    redactor = Redactor.for_parties([bob])
    assert "K-1001" not in redactor.redact(text)  # without keeping: a name after the cue
    kept = redactor.keeping(["K-1001", "+31612345678"]).redact(text)
    assert "K-1001" in kept and "+31612345678" in kept
    for other in ("Bob", "Jansen", "bob@other.nl", "+31687654321"):
        assert other not in kept


def test_a_name_particle_alone_is_an_everyday_word_not_the_party() -> None:
    from archive.anonymise import AnonymisedView
    from archive.model import AddressKind, Party, PartyRole, Side

    anna = Party(PartyRole.FROM, "anna@klant.nl", AddressKind.EMAIL, "Anna van der Berg",
                 Side.CUSTOMER)
    shown = AnonymisedView([anna], "nl").text(
        "Het geld is afgeschreven van mijn rekening, de rest volgt. Groeten, Anna van der Berg")
    assert shown == ("Het geld is afgeschreven van mijn rekening, de rest volgt. "
                     "Groeten, [CUSTOMER-1]")
    assert "Berg" not in AnonymisedView([anna], "nl").text("Met mevrouw Berg gesproken")
