"""ingest.transcription.transcript: speaker labels and phrases."""

from __future__ import annotations

from archive.model import AddressKind, Party, PartyRole, Side
from ingest.transcription.transcript import Word, phrases, speaker_labels


def test_speaker_labels_use_sides_never_addresses() -> None:
    parties = [
        Party(
            PartyRole.CALLER,
            "+821012345678",
            AddressKind.PHONE,
            side=Side.CUSTOMER,
            channel_index=0,
        ),
        Party(PartyRole.CALLEE, "sip:a@pbx", AddressKind.SIP, side=Side.AGENT, channel_index=1),
        Party(
            PartyRole.PARTICIPANT, "sip:b@pbx", AddressKind.SIP, side=Side.AGENT, channel_index=2
        ),
    ]
    assert speaker_labels(parties, 4) == ["customer", "agent", "agent 2", "channel 3"]


def test_long_speech_is_cut_into_phrases_so_hits_point_near_the_words() -> None:
    # GIVEN one recogniser result: 25 s of talk without a pause, then a pause and one word
    words = [Word(f"w{i}", i * 0.5, i * 0.5 + 0.45, 1.0) for i in range(50)]
    words.append(Word("after", 26.0, 26.4, 1.0))

    cut = phrases(words)

    assert [len(u.text.split()) for u in cut] == [20, 20, 10, 1]
    assert all(u.end - u.start <= 10.0 for u in cut)
    assert [u.start for u in cut] == [0.0, 10.0, 20.0, 26.0]
    assert " ".join(u.text for u in cut).split() == [w.word for w in words]
