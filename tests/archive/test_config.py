"""The default policy an archive starts with (``archive.toml`` as ``init`` writes it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import rights
from archive.config import DEFAULT_CONFIG_TOML, ArchiveConfig, LawfulBasis, load_config
from archive.service import Archive
from tests.conftest import email_item, make_archive


@pytest.fixture
def default_archive(tmp_path: Path) -> Iterator[Archive]:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "archive.toml").write_text(DEFAULT_CONFIG_TOML)
    arc = make_archive(tmp_path / "data", config=load_config(tmp_path / "cfg"))
    yield arc
    arc.close()


def test_the_written_default_policy_is_the_built_in_default(tmp_path: Path) -> None:
    (tmp_path / "archive.toml").write_text(DEFAULT_CONFIG_TOML)
    written, built_in = load_config(tmp_path), ArchiveConfig()
    assert written.purposes == built_in.purposes
    assert written.rules == built_in.rules
    assert written.customer_number_patterns == built_in.customer_number_patterns


def test_four_purposes_each_with_its_lawful_basis_and_a_defensible_retention() -> None:
    config = ArchiveConfig()
    got = {p.name: (p.lawful_basis, p.retention_days) for p in config.purposes}
    assert got == {
        "quality": (LawfulBasis.LEGITIMATE_INTEREST, 183),
        "training": (LawfulBasis.LEGITIMATE_INTEREST, 365),
        "order": (LawfulBasis.CONTRACT, 730),
        "legal": (LawfulBasis.LEGAL_OBLIGATION, 2555),
    }
    assert config.purpose("training").anonymised
    for name in ("quality", "training", "order", "legal"):
        # The reasoning is written next to each purpose in the file the operator edits.
        section = DEFAULT_CONFIG_TOML.split(f"[purposes.{name}]")[0].rsplit("\n\n", 1)[-1]
        assert section.lstrip().startswith("#"), name


def test_ordinary_support_mail_gets_quality_and_training_only_and_is_erasable(
    default_archive: Archive,
) -> None:
    arc = default_archive
    support = arc.ingest(email_item(customer="anna@customer.nl")).item_id
    order = arc.ingest(email_item(customer="anna@customer.nl",
                                  agent="orders@example.com")).item_id
    invoice = arc.ingest(email_item(customer="anna@customer.nl",
                                    agent="billing@example.com")).item_id
    assert arc.record(support).purpose_names == frozenset({"quality", "training"})
    assert arc.record(order).purpose_names == frozenset({"quality", "training", "order"})
    assert arc.record(invoice).purpose_names == frozenset({"quality", "training", "legal"})
    cert = rights.erase_subject(arc, "anna@customer.nl", actor="dpo").public()
    assert {e["item_id"] for e in cert["erased"]} == {support, order}
    assert {k["item_id"]: k["reason"] for k in cert["kept"]} == {invoice: "legal_obligation"}
