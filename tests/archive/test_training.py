"""Training sets: consistent pseudonyms per set, unlinkable sets, the ZIP and its manifest,
agreement with the anonymised view, erasure and expiry."""

from __future__ import annotations

import io
import json
import re
import uuid
import wave
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive import rights, training
from archive.anonymise import AnonymisedView
from archive.config import DEFAULT_RULES, Role
from archive.errors import AccessDenied, InvalidRequest
from archive.model import (
    AddressKind,
    Channel,
    Direction,
    NewItem,
    Party,
    PartyRole,
    Section,
    Side,
)
from archive.retention import sweep
from archive.service import Archive
from archive.users import User
from tests import corpus
from tests.conftest import TEST_CONFIG, make_archive

TRAINER = User("tina", Role.TRAINER)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AGENT = "support@example.com"


def mail(archive: Archive, *, sender: str, name: str, body: str, subject: str = "Vraag",
         started_at: datetime = T0) -> str:
    message_id = f"<{uuid.uuid4().hex}@customer.nl>"
    raw = (f"From: {name} <{sender}>\r\nTo: {AGENT}\r\nSubject: {subject}\r\n"
           f"Message-ID: {message_id}\r\n\r\n{body}\r\n").encode()
    return archive.ingest(NewItem(
        channel=Channel.EMAIL, original=raw, content_type="message/rfc822", source="test",
        started_at=started_at, direction=Direction.INBOUND,
        parties=[Party(PartyRole.FROM, sender, AddressKind.EMAIL, name, Side.CUSTOMER),
                 Party(PartyRole.TO, AGENT, AddressKind.EMAIL, None, Side.AGENT)],
        details={"subject": subject, "message_id": message_id},
        sections=[Section("subject", subject), Section("body", body)],
        dedupe_key=f"msgid:{message_id}", language="nl",
    )).item_id


def wav(seconds: float, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x10\x00\x10\x00" * int(seconds * rate))
    return buf.getvalue()


def call(archive: Archive, *, number: str, name: str, said: Sequence[tuple[str, str]],
         transcript: bool = True, low_confidence: bool = False) -> str:
    """A call whose words are 0.4 s apart; ``said`` is (speaker, text) per utterance."""
    speakers: dict[str, dict[str, Any]] = {
        s: {"label": s, "channel": c, "words": [], "utterances": []}
        for s, c in (("agent", 0), ("customer", 1))}
    sections, at = [], 0.5
    for speaker, text in said:
        start = at
        for word in text.split():
            speakers[speaker]["words"].append(
                {"word": word, "start": round(at, 2), "end": round(at + 0.35, 2), "conf": 1.0})
            at += 0.4
        speakers[speaker]["utterances"].append({"start": round(start, 2), "end": round(at, 2),
                                                "text": text})
        sections.append(Section("transcript", text, speaker, round(start, 2)))
        at += 0.6
    item_id = archive.ingest(NewItem(
        channel=Channel.CALL, original=wav(at + 1), content_type="audio/wav", source="test",
        started_at=T0, ended_at=T0 + timedelta(seconds=at + 1), direction=Direction.INBOUND,
        parties=[Party(PartyRole.CALLER, number, AddressKind.PHONE, name, Side.CUSTOMER, 1),
                 Party(PartyRole.CALLEE, "+31205550100", AddressKind.PHONE, None, Side.AGENT,
                       0)],
        details={"call_id": uuid.uuid4().hex}, sections=[],
        dedupe_key=f"call:{uuid.uuid4().hex}", transcribe=True, language="nl",
    )).item_id
    if transcript:
        body = {"speakers": list(speakers.values()), "duration_s": at, "model": "test"}
        if low_confidence:
            body["low_confidence"] = True
        archive.attach_transcript(item_id, body, sections,
                                  "\n".join(t for _, t in said))
    return item_id


def build(archive: Archive, size: int = 10, **kwargs: Any) -> training.TrainingSet:
    surrogates = kwargs.pop("surrogates", False)
    return training.build_set(archive, TRAINER, title="Onboarding week 1",
                              purpose_text="Examples of billing questions for new agents",
                              criteria=training.Criteria(size=size, **kwargs),
                              surrogates=surrogates)


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def text_of(files: dict[str, bytes]) -> str:
    return "\n".join(v.decode() for k, v in files.items() if not k.endswith(".wav"))


@pytest.fixture
def anna(archive: Archive) -> dict[str, str]:
    return anna_items(archive)


@pytest.fixture
def erasable(tmp_path: Path) -> Iterator[Archive]:
    """The shipped policy: support contact for quality and training only, so erasable."""
    arc = make_archive(tmp_path / "erasable",
                       config=TEST_CONFIG.model_copy(update={"rules": DEFAULT_RULES}))
    yield arc
    arc.close()


def anna_items(archive: Archive) -> dict[str, str]:
    """Anna writes twice and calls once; a third party's number recurs."""
    return {
        "mail1": mail(archive, sender="anna@customer.nl", name="Anna de Wit",
                      body="Bel mij op 0612345678 of mail naar piet.peters@gmail.com.\n"
                           "Groeten,\nAnna de Wit"),
        "mail2": mail(archive, sender="anna@customer.nl", name="Anna de Wit",
                      body="Mijn nummer blijft 06 12 34 56 78, mijn buurman Piet Peters "
                           "heeft 0687654321.\nMet vriendelijke groet, Anna de Wit"),
        "call": call(archive, number="+31612345678", name="Anna de Wit",
                     said=[("agent", "goedemorgen met wie spreek ik"),
                           ("customer", "met anna de wit"),
                           ("customer", "mijn buurman heeft nul zes acht zeven zes vijf vier "
                                        "drie twee een")]),
    }


def test_the_same_person_and_the_same_number_have_one_name_in_every_item_of_a_set(
        archive: Archive, anna: dict[str, str]) -> None:
    made = build(archive, size=3)
    shown = training.preview(archive, TRAINER, made.id)
    by_item = {i.item_id: i for i in shown.items}
    texts = {key: by_item[item_id].text for key, item_id in anna.items()}
    customer = re.findall(r"\[Klant-\d+\]", texts["mail1"])
    assert customer and set(customer) == set(re.findall(r"\[Klant-\d+\]", texts["mail2"]))
    assert customer[0] in texts["call"]  # the caller is Anna: her name in the call
    phone = re.search(r"\[Telefoon-\d+\]", texts["mail1"])
    assert phone and phone.group() in texts["mail2"]  # 0612345678 and 06 12 34 56 78
    for text in texts.values():
        for real in ("Anna", "anna", "0612345678", "piet.peters", "0687654321", "Wit"):
            assert real not in text


def test_two_sets_over_the_same_items_cannot_be_joined(
        archive: Archive, anna: dict[str, str]) -> None:
    first = build(archive, size=3, surrogates=True)
    second = build(archive, size=3, surrogates=True)
    a = training.preview(archive, TRAINER, first.id)
    b = training.preview(archive, TRAINER, second.id)
    assert {i.pseudo_id for i in a.items}.isdisjoint({i.pseudo_id for i in b.items})
    names_a = set().union(*(i.pseudonyms for i in a.items))
    names_b = set().union(*(i.pseudonyms for i in b.items))
    assert names_a != names_b
    # Within one set the surrogate is stable: a second rendering names everyone alike.
    again = training.preview(archive, TRAINER, first.id)
    assert [i.text for i in again.items] == [i.text for i in a.items]
    assert "Anna" not in "\n".join(i.text for i in a.items)


def test_surrogates_read_naturally_and_keep_the_shape_of_numbers(
        archive: Archive, anna: dict[str, str]) -> None:
    made = build(archive, size=3, surrogates=True)
    item = next(i for i in training.preview(archive, TRAINER, made.id).items
                if i.item_id == anna["mail1"])
    assert "[" not in item.text  # no labels: made-up values
    number = re.search(r"Bel mij op (\S+) of mail naar (\S+)\.", item.text)
    assert number and re.fullmatch(r"\d{10}", number.group(1))
    assert number.group(1) != "0612345678" and number.group(2).endswith("@example.org")


def test_every_text_agrees_with_the_anonymised_view_and_audio_is_bleeped_where_it_redacts(
        archive: Archive) -> None:
    ids = {doc.id: corpus.ingest(archive, doc) for doc in corpus.documents()}
    made = build(archive, size=len(ids))
    found, data = training.export_zip(archive, TRAINER, made.id)
    files = unzip(data)
    manifest = json.loads(files["manifest.json"])
    by_pseudo = {m.pseudo_id: m.item_id for m in found.members}
    label = re.compile(r"\[[^\]]*\]")
    for entry in manifest["items"]:
        record = archive.record(by_pseudo[entry["id"]])
        view = AnonymisedView(record.parties)
        folder = f"items/{entry['id']}/"
        if entry["channel"] == "email":
            index = json.loads(archive.vault.unseal_for_system(record.id, "index"))
            expected = view.email_text(index)
            got = files[folder + "email.txt"].decode().rstrip("\n")
            assert label.sub("[]", got) == label.sub("[]", expected)
            continue
        original = json.loads(archive.vault.unseal_for_system(record.id, "transcript"))
        expected_t = view.transcript(original)
        got_t = json.loads(files[folder + "transcript.json"])
        for want, have in zip(expected_t["speakers"], got_t["speakers"], strict=True):
            assert [(w["start"], w["end"], bool(w.get("redacted"))) for w in want["words"]] == [
                (w["start"], w["end"], bool(w.get("redacted"))) for w in have["words"]]
            assert [label.sub("[]", u["text"]) for u in want["utterances"]] == [
                label.sub("[]", u["text"]) for u in have["utterances"]]
        assert files[folder + "audio.wav"] == archive.read_audio(TRAINER, record.id).data
    # What a person reads: without the made-up ids, hashes, sizes, times and dates the
    # files carry, whose digits can spell a short number such as a postcode by chance.
    everything = corpus.squash(re.sub(
        r"\b(?:t[0-9a-f]{10}|[0-9a-f]{64})\b|(?<=\": )-?[\d.]+|\d{4}-\d\d-\d\dT[\d:.+]+",
        " ", text_of(files)))
    assert "duplicate" in everything or "facture" in everything  # the texts are still there
    for doc in corpus.documents():
        for pii in doc.pii:
            if pii["kind"] in corpus.STRUCTURED:
                assert corpus.squash(pii["text"]) not in everything, (doc.id, pii)
        assert corpus.squash(doc.customer["address"]) not in everything
        assert corpus.squash(doc.customer["name"]) not in everything


def test_the_zip_holds_exactly_what_its_manifest_lists(
        archive: Archive, anna: dict[str, str]) -> None:
    ibans = set()
    for n in range(8):
        ibans.add(mail(archive, sender=f"c{n}@klant.be", name=f"Klant Nummer{n}",
             body=f"Mijn factuur {n} klopt niet, IBAN NL91ABNA0417164300."))
    made = build(archive, size=10, seed=7)
    found, data = training.export_zip(archive, TRAINER, made.id)
    files = unzip(data)
    manifest = json.loads(files["manifest.json"])
    listed = {f["path"]: f for item in manifest["items"] for f in item["files"]}
    assert set(files) == {*listed, "manifest.json", "datasheet.md"}
    import hashlib

    for path, entry in listed.items():
        assert hashlib.sha256(files[path]).hexdigest() == entry["sha256"]
    assert manifest["counts"]["items"] == len(manifest["items"]) == 10
    assert manifest["redactions"]["IBAN"] == len(ibans & {m.item_id for m in found.members})
    assert b"NL91ABNA" not in b"".join(files.values())
    sheet = files["datasheet.md"].decode()
    assert "Examples of billing questions" in sheet and "tina" in sheet
    assert found.expires_at is not None and found.expires_at.isoformat() in sheet
    assert found.status is training.SetStatus.EXPORTED
    assert archive.audit.events(action="training_set_export")


def test_calls_without_a_trustworthy_transcript_are_left_out_and_listed(
        archive: Archive) -> None:
    good = call(archive, number="+31611111111", name="Bert Bos", said=[("customer", "hallo")])
    call(archive, number="+31622222222", name="Carla Cox", said=[], transcript=False)
    call(archive, number="+31633333333", name="Dirk Dam", said=[("customer", "eh")],
         low_confidence=True)
    made = build(archive, size=3)
    assert [m.item_id for m in made.members] == [good]
    reasons = sorted(e["reason"] for e in made.excluded)
    assert len(reasons) == 2 and "low confidence" in reasons[0] + reasons[1]
    manifest = json.loads(unzip(training.export_zip(archive, TRAINER, made.id)[1])
                          ["manifest.json"])
    assert len(manifest["excluded"]) == 2


def test_criteria_stratify_and_seed(archive: Archive) -> None:
    for n in range(6):
        mail(archive, sender=f"m{n}@klant.nl", name=f"M {n}", body="factuur")
    for n in range(3):
        call(archive, number=f"+3164444444{n}", name=f"C {n}", said=[("customer", "storing")])
    halves = build(archive, size=6, stratify=training.Stratify.CHANNEL, seed=3)
    channels = [archive.record(m.item_id).channel for m in halves.members]
    assert channels.count(Channel.CALL) == 3 and channels.count(Channel.EMAIL) == 3
    calls_only = build(archive, size=10, channel=Channel.CALL)
    assert len(calls_only.members) == 3
    same = [build(archive, size=4, seed=11) for _ in range(2)]
    assert ({m.item_id for m in same[0].members} == {m.item_id for m in same[1].members})
    with pytest.raises(InvalidRequest, match="no item matches"):
        build(archive, size=2, language="de")
    with pytest.raises(AccessDenied):
        training.build_set(archive, User("q", Role.QUALITY), title="x", purpose_text="x",
                           criteria=training.Criteria(size=1))


def test_erasure_removes_items_from_drafts_and_lists_sets_already_handed_out(
        erasable: Archive) -> None:
    archive = erasable
    anna = anna_items(archive)
    training.install(archive)
    other = mail(archive, sender="bob@klant.nl", name="Bob Berg", body="modem stuk")
    handed = build(archive, size=4)
    training.export_zip(archive, TRAINER, handed.id)
    draft = build(archive, size=4)
    certificate = rights.erase_subject(archive, ["anna@customer.nl", "+31612345678"],
                                       actor="dpo")
    assert {e["item_id"] for e in certificate.erased} == set(anna.values())
    outside = next(o for o in certificate.outside if o["source"] == "training sets")
    assert [m.item_id for m in training.get_set(archive, draft.id).live_members] == [other]
    assert all(draft.id in line for line in outside["erased"]) and outside["erased"]
    assert outside["handed_out"] and all(handed.id in line for line in outside["handed_out"])
    kept = training.get_set(archive, handed.id)
    assert {m.pseudo_id for m in kept.members if m.gone_reason} == {
        m.pseudo_id for m in handed.members if m.item_id != other}
    assert "anna" not in json.dumps(outside).lower()
    # A second erasure does not list the same hand-out again.
    again = rights.erase_subject(archive, "bob@klant.nl", actor="dpo")
    outside = next(o for o in again.outside if o["source"] == "training sets")
    assert len(outside["handed_out"]) == 1 and handed.id in outside["handed_out"][0]


def test_a_set_expires_with_the_training_retention_of_its_items(
        archive: Archive, anna: dict[str, str]) -> None:
    training.install(archive)
    made = build(archive, size=3)
    assert made.expires_at is not None
    early = sweep(archive, now=made.expires_at - timedelta(days=1), actor="sweeper")
    assert {"source": "training sets", "purged": []} in early.outside
    dry = sweep(archive, now=made.expires_at + timedelta(seconds=1), actor="s", dry_run=True)
    assert {"source": "training sets", "purged": [made.id]} in dry.outside
    training.get_set(archive, made.id)  # a dry run keeps it
    report = sweep(archive, now=made.expires_at + timedelta(seconds=1), actor="sweeper")
    assert {"source": "training sets", "purged": [made.id]} in report.outside
    with pytest.raises(InvalidRequest, match="not found"):
        training.get_set(archive, made.id)
    assert archive.audit.events(action="training_set_expire")


def test_trainer_search_matches_only_the_anonymised_text(
        archive: Archive, anna: dict[str, str]) -> None:
    from archive.index import SearchQuery

    archive.flush_index()
    assert archive.search(TRAINER, SearchQuery(text="buurman")).result.total >= 1
    for name in ("Peters", "Anna", "Wit"):
        try:
            found = archive.search(TRAINER, SearchQuery(text=name)).result.total
        except AccessDenied:
            found = 0
        assert found == 0, name
    assert archive.search(User("q", Role.QUALITY), SearchQuery(text="Peters")).result.total


def test_a_set_survives_rotation_and_retirement_of_its_purpose_key(
        archive: Archive, anna: dict[str, str]) -> None:
    made = build(archive, size=3)
    before = [i.text for i in training.preview(archive, TRAINER, made.id).items]
    old = archive.keyring.current_version("training")
    archive.rotate_key("training", actor="admin")
    from archive.keyadmin import retire_key

    retire_key(archive.vault, "training", old, actor="admin")
    assert [i.text for i in training.preview(archive, TRAINER, made.id).items] == before


def test_surrogate_numbers_keep_their_country_and_leading_zero_and_nothing_else() -> None:
    from archive.training import surrogates

    digest = bytes(range(32))
    phone = surrogates.reshape("+31 6 2345 6789", digest)
    assert phone.startswith("+31 ") and phone != "+31 6 2345 6789"
    assert [c.isdigit() for c in phone] == [c.isdigit() for c in "+31 6 2345 6789"]
    assert surrogates.reshape("010-4123456", digest).startswith("0")
    iban = surrogates.reshape("NL91ABNA0417164300", digest)
    assert iban.startswith("NL") and iban[2:] != "91ABNA0417164300" and len(iban) == 18
    assert not surrogates.reshape("SW1A 1AA", digest).startswith("SW")


def test_an_item_whose_text_disagrees_with_the_view_is_left_out_not_shown(
        archive: Archive, anna: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    made = build(archive, size=3)
    monkeypatch.setattr(AnonymisedView, "email_text", lambda self, part: "something else")
    shown = training.preview(archive, TRAINER, made.id)
    assert [i.item_id for i in shown.items] == [anna["call"]]
    assert len(shown.unavailable) == 2
    assert all("does not match the anonymised view" in u["reason"] for u in shown.unavailable)


def test_criteria_from_the_quality_teams_reviews_and_queue(archive: Archive) -> None:
    from archive.quality import backfill, monitoring, reviews, scorecards

    ids = [mail(archive, sender=f"q{n}@klant.nl", name=f"Q {n}",
                body="ik wil mijn abonnement opzeggen" if n == 3 else "mijn factuur klopt niet")
           for n in range(4)]
    rita = User("rita", Role.QUALITY)
    card = scorecards.save(archive, name="Mail", actor="rita", role="quality", sections=[
        {"title": "Answer", "criteria": [{"id": "ok", "label": "Answers the question"}]}])
    for item_id, answer in ((ids[1], "yes"), (ids[2], "no")):
        review = reviews.start(archive, rita, item_id, card.id)
        reviews.submit(archive, rita, review, {"ok": answer}, "")
    monitoring.save(archive, "churn", {"lists": {"*": ["abonnement opzeggen"]}}, enabled=True,
                    actor="rita", role="quality")
    backfill.request(archive, names=["churn"], actor="rita", role="quality")
    backfill.run_queued(archive, worker="test")
    trainer = User("tina", Role.TRAINER)

    def picked(**criteria: Any) -> set[str]:
        made = training.build_set(archive, trainer, title="t", purpose_text="p",
                                  criteria=training.Criteria(size=10, **criteria))
        assert made.criteria.public().items() >= criteria.items()  # kept for the datasheet
        return {m.item_id for m in made.members}

    assert picked(reviewed=True) == {ids[1], ids[2]}
    assert picked(reviewed=False) == {ids[0], ids[3]}
    assert picked(score_min=50) == {ids[1]}
    assert picked(score_max=50) == {ids[2]}
    assert picked(topic="churn") == {ids[3]}
    with pytest.raises(InvalidRequest, match="score range"):
        picked(reviewed=False, score_min=10)
    with pytest.raises(InvalidRequest, match="lowest is above the highest"):
        picked(score_min=80, score_max=20)


def test_every_category_the_recognisers_name_has_a_readable_label() -> None:
    from archive.anonymise.categories import CATEGORIES
    from archive.training.pseudonyms import LABELS

    assert {c.upper() for c in CATEGORIES} <= set(LABELS)  # never "Date_Of_Birth-1"
