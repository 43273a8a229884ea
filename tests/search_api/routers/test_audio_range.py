"""Call audio streams with HTTP Range requests: the right bytes, 206/416, and a
trainer's ranges are cut from the bleeped recording, never the original."""

from __future__ import annotations

import math
import struct

from fastapi.testclient import TestClient

from archive.config import Role
from archive.model import Section
from archive.service import Archive
from ingest.audio import write_wav
from ingest.calls import ingest_call_file
from search_api.routers.items import MAX_RANGE_BYTES
from tests.search_api.conftest import assert_error, bearer

#: 40 s of 8 kHz 16-bit stereo: 1.28 MB, five sealed chunks and more than one answer.
SECONDS = 40


def _wav(seconds: int = SECONDS) -> bytes:
    pcm = b"".join(struct.pack("<h", int(6000 * math.sin(i / 5))) for i in range(8000 * seconds))
    return write_wav(8000, [pcm, pcm[::-1]])


def _call(archive: Archive, wav: bytes, call_id: str = "range-1") -> str:
    sidecar = (f'{{"call_id": "{call_id}", "from": "+31612345678",'
               ' "from_name": "Kees Jansen", "to": "+31205550100",'
               ' "agent": "+31205550100", "direction": "inbound",'
               ' "start": "2026-11-02T09:00:00Z"}').encode()
    return ingest_call_file(archive, wav, sidecar, source="test", actor="test").ingest.item_id


def test_ranges_return_exactly_the_bytes_asked_for(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    wav = _wav()
    item_id = _call(archive, wav)
    url = f"/api/v1/items/{item_id}/audio"
    auth = bearer(tokens["quality"])
    size = len(wav)
    # GIVEN ranges inside one chunk, across chunk borders, open-ended and suffix
    for spec, start, end in [
        ("bytes=0-99", 0, 99),
        ("bytes=262100-262200", 262100, 262200),       # across the first chunk border
        ("bytes=500000-1100000", 500000, 1100000),     # three chunks
        (f"bytes={size - 10}-", size - 10, size - 1),   # open to the end
        ("bytes=-1000", size - 1000, size - 1),         # the last 1000 bytes
        (f"bytes=5-{size * 2}", 5, 5 + MAX_RANGE_BYTES - 1),  # past the end: capped
    ]:
        resp = client.get(url, headers={**auth, "Range": spec})
        # THEN each is a 206 with the bytes of the original and their place in it
        assert resp.status_code == 206, (spec, resp.text)
        assert resp.content == wav[start:end + 1], spec
        assert resp.headers["content-range"] == f"bytes {start}-{end}/{size}", spec
        assert resp.headers["accept-ranges"] == "bytes"
        assert resp.headers["content-type"] == "audio/wav"
    # AND an open range from the start answers one capped piece, not the whole call
    first = client.get(url, headers={**auth, "Range": "bytes=0-"})
    assert first.status_code == 206 and len(first.content) == MAX_RANGE_BYTES < size
    # AND without Range the whole recording comes, saying ranges are accepted
    whole = client.get(url, headers=auth)
    assert whole.status_code == 200 and whole.content == wav
    assert whole.headers["accept-ranges"] == "bytes"
    # AND every range read is audited with its range
    ranges = [e.detail.get("range") for e in archive.audit.events(action="read")]
    assert [0, 100] in ranges


def test_a_range_past_the_end_is_416_naming_the_size(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    wav = _wav(2)
    item_id = _call(archive, wav)
    url = f"/api/v1/items/{item_id}/audio"
    for spec in (f"bytes={len(wav)}-", f"bytes={len(wav) + 5}-{len(wav) + 9}", "bytes=-0"):
        resp = client.get(url, headers={**bearer(tokens["quality"]), "Range": spec})
        err = assert_error(resp, 416, "range_not_satisfiable")
        assert resp.headers["content-range"] == f"bytes */{len(wav)}"
        assert err["item_id"] == item_id


def test_malformed_or_multiple_ranges_are_ignored_and_the_whole_call_sent(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    wav = _wav(2)
    item_id = _call(archive, wav)
    for spec in ("bytes=0-1,5-9", "bytes=9-3", "items=0-5", "bytes=-"):
        resp = client.get(f"/api/v1/items/{item_id}/audio",
                          headers={**bearer(tokens["quality"]), "Range": spec})
        assert resp.status_code == 200 and resp.content == wav, spec


def test_a_trainers_ranges_are_cut_from_the_bleeped_audio(
    client: TestClient, archive: Archive
) -> None:
    wav = _wav(4)
    item_id = _call(archive, wav)
    archive.attach_transcript(item_id, {"speakers": [
        {"label": "customer", "channel": 0,
         "words": [{"word": "mijn", "start": 0.2, "end": 0.5, "conf": 1.0},
                   {"word": "naam", "start": 0.5, "end": 0.8, "conf": 1.0},
                   {"word": "is", "start": 0.8, "end": 1.0, "conf": 1.0},
                   {"word": "jansen", "start": 1.0, "end": 1.6, "conf": 1.0}],
         "utterances": [{"start": 0.2, "end": 1.6, "text": "mijn naam is jansen"}]}]},
        [Section("transcript", "mijn naam is jansen", "customer", 0.2)],
        "customer: mijn naam is jansen")
    token = archive.users.add("trainer1", Role.TRAINER)
    url = f"/api/v1/items/{item_id}/audio"
    whole = client.get(url, headers=bearer(token))
    assert whole.status_code == 200 and whole.content != wav  # bleeped
    part = client.get(url, headers={**bearer(token), "Range": "bytes=1000-99999"})
    assert part.status_code == 206
    assert part.content == whole.content[1000:100000]
    assert part.content != wav[1000:100000]
    # Each range is redacted on its own, even one cutting a frame in half, and is
    # audited as an anonymised read of exactly those bytes.
    odd = client.get(url, headers={**bearer(token), "Range": "bytes=12345-"})
    assert odd.status_code == 206 and odd.content == whole.content[12345:12345 + len(odd.content)]
    event = archive.audit.events(action="read", item_id=item_id)[-1]
    assert event.detail["anonymised"] is True
    assert event.detail["range"] == [12345, 12345 + len(odd.content)]


def test_the_waveform_has_peaks_for_both_sides_of_the_call(
    client: TestClient, archive: Archive, tokens: dict[str, str]
) -> None:
    # GIVEN a call where the customer (channel 0) talks throughout and the agent only
    # in the second half
    loud = b"".join(struct.pack("<h", int(16000 * math.sin(i / 5))) for i in range(8000 * 4))
    agent = bytes(len(loud) // 2) + loud[len(loud) // 2:]
    item_id = _call(archive, write_wav(8000, [loud, agent]), "wave-1")
    resp = client.get(f"/api/v1/items/{item_id}/waveform", params={"points": 100},
                      headers=bearer(tokens["quality"]))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["duration_s"] == 4.0
    customer, agent_peaks = body["channels"]
    assert len(customer) == len(agent_peaks) == 100
    assert min(customer) > 0.4
    assert max(agent_peaks[:49]) == 0.0 and min(agent_peaks[51:]) > 0.4
    assert_error(client.get(f"/api/v1/items/{item_id}/waveform",
                            headers=bearer(tokens["admin"])), 403, "wrong_role")
