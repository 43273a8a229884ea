"""An item's language: rules in archive.toml, the catalog column, and failing closed."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive import catalog as cat
from archive.catalog import sqlite_url
from archive.config import CONFIG_FILE_NAME, DEFAULT_CONFIG_TOML, Role, load_config
from archive.errors import AccessDenied, ConfigError
from archive.language import LanguageRule, decide_language, detect_text_language
from archive.model import (
    AddressKind,
    Channel,
    Direction,
    NewItem,
    Party,
    PartyRole,
    Side,
    TranscriptStatus,
)
from archive.service import Archive
from tests import corpus
from tests.conftest import TEST_CONFIG, email_item, make_archive


def call(*, to: str = "+3120555123", queue: str | None = None) -> NewItem:
    return NewItem(
        channel=Channel.CALL, original=b"RIFF-not-audio" + os.urandom(8), content_type="audio/wav",
        source="test", started_at=datetime.now(UTC), direction=Direction.INBOUND,
        parties=[
            Party(PartyRole.CALLER, "+32475123456", AddressKind.PHONE, side=Side.CUSTOMER),
            Party(PartyRole.CALLEE, to, AddressKind.PHONE, side=Side.AGENT),
        ],
        details={"queue": queue} if queue else {}, transcribe=True,
    )


RULES = (
    LanguageRule(language="fr", queue="Facturation"),
    LanguageRule(language="nl", dialled_number_prefix="+3120555"),
    LanguageRule(language="en", mailbox="support-en@example.com"),
)


def test_the_first_matching_rule_decides_the_language() -> None:
    # The queue rule comes first, so a French queue on a Dutch number is French.
    assert decide_language(RULES, call(queue="facturation")) == "fr"
    assert decide_language(RULES, call()) == "nl"
    assert decide_language(RULES, call(to="+3225550100")) is None


def test_the_dialled_number_is_the_called_party_not_the_caller() -> None:
    rules = (LanguageRule(language="fr", dialled_number_prefix="+32"),)
    # The caller is Belgian, but the number dialled is Dutch: no rule decides.
    assert decide_language(rules, call()) is None


def test_archive_toml_language_rules_are_read_and_bad_codes_named(tmp_path: Path) -> None:
    toml = DEFAULT_CONFIG_TOML + '\n[[language.rules]]\nlanguage = "NL"\nqueue = "storingen"\n'
    (tmp_path / CONFIG_FILE_NAME).write_text(toml)
    assert load_config(tmp_path).language_rules == (LanguageRule(language="nl",
                                                                 queue="storingen"),)
    (tmp_path / CONFIG_FILE_NAME).write_text(
        DEFAULT_CONFIG_TOML + '\n[[language.rules]]\nlanguage = "dutch!"\n')
    with pytest.raises(ConfigError, match="'dutch!' is not a language code"):
        load_config(tmp_path)


def test_the_default_config_documents_language_rules_and_sets_none(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE_NAME).write_text(DEFAULT_CONFIG_TOML)
    assert "[[language.rules]]" in DEFAULT_CONFIG_TOML
    assert load_config(tmp_path).language_rules == ()


def test_ingest_stores_the_rule_language_over_the_detected_one(tmp_path: Path) -> None:
    config = TEST_CONFIG.model_copy(update={"language_rules": RULES})
    arc = make_archive(tmp_path / "data", config=config)
    try:
        by_rule = call(queue="Facturation")
        by_rule.language = "en"  # what a detector guessed; the operator's rule wins
        undecided = call(to="+3225550100")
        undecided.language = "de"
        rule_id = arc.ingest(by_rule).item_id
        detected_id = arc.ingest(undecided).item_id
        assert arc.record(rule_id).language == "fr"
        assert arc.record(detected_id).language == "de"
    finally:
        arc.close()


def test_the_migration_adds_the_language_column_to_an_existing_archive(tmp_path: Path) -> None:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from archive.migrations.versions import v0002_item_language

    # GIVEN a catalog written by a release without items.language, holding an item
    arc = make_archive(tmp_path / "data")
    item_id = arc.ingest(call()).item_id
    arc.close()
    engine = sa.create_engine(sqlite_url(tmp_path / "data" / "catalog.sqlite"))
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE items DROP COLUMN language"))

    # WHEN the migration runs (twice: a catalog that has the column is left alone)
    for _ in range(2):
        with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            v0002_item_language.upgrade()

    # THEN the column is back, and the old item reads as 'language not decided'
    with engine.connect() as conn:
        row = conn.execute(sa.select(cat.items.c.language, cat.items.c.transcript_status)
                           .where(cat.items.c.id == item_id)).one()
    engine.dispose()
    assert tuple(row) == (None, TranscriptStatus.PENDING.value)


def test_no_model_call_has_no_transcript_and_trainers_get_no_audio(archive: Archive) -> None:
    # GIVEN a call in Dutch, and no Dutch model
    item_id = archive.ingest(call()).item_id
    archive.mark_transcript_unavailable(item_id, TranscriptStatus.NO_MODEL,
                                        "no transcription model for language 'nl'",
                                        language="nl")

    # THEN it says so, waits for a model, and a trainer gets no audio of it
    record = archive.record(item_id)
    assert record.transcript_status is TranscriptStatus.NO_MODEL
    assert record.language == "nl"
    assert archive.awaiting_transcripts(language="nl") == [item_id]
    assert archive.awaiting_transcripts(language="fr") == []
    assert archive.pending_transcripts(10) == []
    trainer = archive.authenticate(archive.users.add("trainer", Role.TRAINER))
    with pytest.raises(AccessDenied, match="transcript is no_model"):
        archive.read_content(trainer, item_id)


def test_unknown_language_calls_wait_for_any_new_model(archive: Archive) -> None:
    item_id = archive.ingest(call()).item_id
    archive.mark_transcript_unavailable(item_id, TranscriptStatus.LANGUAGE_UNKNOWN, "no rule")
    assert archive.record(item_id).language is None
    # A new model of any language may tell it, so a backfill for 'fr' tries it too.
    assert archive.awaiting_transcripts(language="fr") == [item_id]
    with archive.vault.catalog.read() as conn:
        reason = conn.execute(sa.select(cat.items.c.transcript_reason)).scalar_one()
    assert reason == "no rule"


def test_only_no_transcript_statuses_can_be_marked(archive: Archive) -> None:
    item_id = archive.ingest(call()).item_id
    with pytest.raises(ValueError, match="done is not"):
        archive.mark_transcript_unavailable(item_id, TranscriptStatus.DONE, "x")


@pytest.mark.parametrize("doc", [d for d in corpus.documents() if d.kind == "email"],
                         ids=lambda d: d.id)
def test_an_email_gets_the_language_of_its_text(archive: Archive, doc: corpus.Doc) -> None:
    item_id = archive.ingest(email_item(subject=doc.raw["subject"], body=doc.raw["body"])).item_id
    assert archive.record(item_id).language == doc.lang


def test_an_email_rule_beats_the_detector_and_unclear_text_stays_unknown(
    tmp_path: Path,
) -> None:
    rules = (LanguageRule(language="fr", mailbox="factures@example.com"),)
    arc = make_archive(tmp_path / "data",
                       config=TEST_CONFIG.model_copy(update={"language_rules": rules}))
    try:
        dutch_to_french_box = email_item(subject="Factuur", agent="factures@example.com",
                                         body="Mijn factuur is deze maand twee keer betaald.")
        assert arc.record(arc.ingest(dutch_to_french_box).item_id).language == "fr"
        assert arc.record(arc.ingest(email_item(subject="", body="+31 6 1234 5678"))
                          .item_id).language is None
    finally:
        arc.close()


def test_a_pbx_sidecars_queue_decides_the_calls_language(tmp_path: Path) -> None:
    from ingest.audio import write_wav
    from ingest.calls import build_call_item, parse_sidecar, recording_from_file

    rules = (LanguageRule(language="fr", queue="facturation"),)
    config = TEST_CONFIG.model_copy(update={"language_rules": rules})
    arc = make_archive(tmp_path / "data", config=config)
    try:
        ids = []
        for n, queue in enumerate(("Facturation", "storingen")):
            sidecar = parse_sidecar({"call_id": f"q-{n}", "from": "+32475123456",
                                     "to": "+3120555100", "queue": queue,
                                     "start": "2026-11-02T09:00:00Z"})
            audio = write_wav(8000, [bytes(1600 + 2 * n)])
            rec = recording_from_file(audio, sidecar, source="test", config=config)
            ids.append(arc.ingest(build_call_item(rec, config)).item_id)
        assert [arc.record(i).language for i in ids] == ["fr", None]
    finally:
        arc.close()


@pytest.mark.parametrize(
    ("text", "language"),
    [("Mijn factuur is deze maand twee keer afgeschreven.", "nl"),
     ("Ma facture a été débitée deux fois ce mois-ci.", "fr"),
     ("Hello", None), ("", None)],
)
def test_text_language_needs_a_sentence(text: str, language: str | None) -> None:
    assert detect_text_language(text, ("nl", "fr", "en", "de")) == language
