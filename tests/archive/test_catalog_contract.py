"""The catalog's contract, on SQLite and on a real PostgreSQL server.

The same migrations build both, an archive made before migrations upgrades in
place, writers on several nodes keep one audit chain, times come back in UTC,
and the whole archive (ingest, search, erasure, audit) runs on either. The
PostgreSQL server is started by the test setup (``tests.services``: initdb as
a non-root user in a temporary directory); under CI it is never skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import archive.approvals.tables
import archive.evidence.tables
import archive.quality.backfill_tables  # noqa: F401
from archive import catalog as cat
from archive import rights
from archive.anchors.memory import MemoryAnchor
from archive.audit import AuditLog, VerifyReport
from archive.catalog import Catalog, sqlite_url
from archive.config import DEFAULT_RULES
from archive.index import SearchQuery
from archive.retention import SweepReport, sweep
from archive.service import Archive
from tests.conftest import TEST_CONFIG, email_item, make_archive
from tests.services import postgres_database

BACKENDS = ("sqlite", "postgresql")
HEAD = "0001_baseline"


@pytest.fixture(params=BACKENDS)
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "catalog.sqlite")
    return postgres_database()


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    made = Catalog(catalog_url)
    made.create_schema()
    yield made
    made.dispose()


def _newest_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "archive:migrations")
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_the_migrations_build_exactly_the_tables_the_code_defines(catalog: Catalog) -> None:
    """A schema change without its migration script fails here, on both backends."""
    with catalog.read() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), cat.metadata)
    assert differences == []
    assert catalog.schema_revision() == _newest_revision()


def test_a_catalog_made_before_migrations_is_upgraded_in_place(catalog_url: str) -> None:
    # How catalogs were made before migrations: the tables of that release, no version
    # table. (The baseline script makes exactly those tables.)
    from alembic import command
    from alembic.config import Config

    old = sa.create_engine(catalog_url)
    config = Config()
    config.set_main_option("script_location", "archive:migrations")
    with old.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001_baseline")
        conn.execute(sa.text("DROP TABLE alembic_version"))
    with old.begin() as conn:
        conn.execute(cat.users.insert(), {
            "name": "amira", "role": "quality", "token_hash": "x" * 64,
            "created_at": datetime.now(UTC)})
    old.dispose()
    upgraded = Catalog(catalog_url)
    try:
        upgraded.create_schema()
        upgraded.create_schema()  # a second start changes nothing
        assert upgraded.schema_revision() == _newest_revision()
        with upgraded.read() as conn:
            assert [r.name for r in conn.execute(sa.select(cat.users))] == ["amira"]
    finally:
        upgraded.dispose()


def test_writers_on_two_nodes_keep_one_audit_chain(catalog_url: str) -> None:
    """Two nodes (two engines) appending at once: no gap, no fork, the chain verifies."""
    nodes = [Catalog(catalog_url) for _ in range(2)]
    nodes[0].create_schema()
    key, anchor = b"a" * 32, MemoryAnchor()
    logs = [AuditLog(node, key, anchor) for node in nodes]
    errors: list[BaseException] = []

    def write(log: AuditLog, name: str) -> None:
        try:
            for n in range(40):
                log.record(actor=name, role="admin", action="test", detail={"n": n})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(log, f"node-{i}"))
               for i, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        logs[0].record(actor="node-0", role="admin", action="test", detail={"n": "last"})
        events = logs[0].events(limit=1000)
        assert sorted(e.seq for e in events) == list(range(1, 82))
        assert logs[1].verify() == VerifyReport(True, 81)
    finally:
        for node in nodes:
            node.dispose()


def test_times_come_back_as_the_same_instant_in_utc(catalog: Catalog) -> None:
    brussels = datetime(2026, 11, 30, 21, 32, 5, 123000, tzinfo=timezone(timedelta(hours=1)))
    with catalog.write() as conn:
        conn.execute(cat.users.insert(), {"name": "n", "role": "admin",
                                          "token_hash": "y" * 64, "created_at": brussels})
    with catalog.read() as conn:
        stored = conn.execute(sa.select(cat.users.c.created_at)).scalar_one()
    assert stored == brussels and stored.tzinfo == UTC


def test_the_whole_archive_runs_on_the_catalog(catalog_url: str, tmp_path: Path) -> None:
    # The shipped policy: support mail for quality and training only, so erasable.
    config = TEST_CONFIG.model_copy(update={"rules": DEFAULT_RULES})
    arc = make_archive(tmp_path / "data", catalog_url=catalog_url, config=config)
    try:
        anna = arc.ingest(email_item(customer="anna@customer.nl", body="walrus invoice")).item_id
        bob = arc.ingest(email_item(customer="bob@other.nl", body="walrus refund")).item_id
        again = arc.ingest(email_item(customer="bob@other.nl", body="walrus refund",
                                      message_id="<same@customer.nl>"))
        repeat = arc.ingest(email_item(customer="bob@other.nl", body="walrus refund",
                                       message_id="<same@customer.nl>"))
        assert again.created and not repeat.created and repeat.item_id == again.item_id
        from archive.config import Role
        from archive.users import User

        quality = User("q", Role.QUALITY)
        found = arc.search(quality, SearchQuery(text="walrus")).result
        assert found.total == 3
        certificate = rights.erase_subject(arc, "anna@customer.nl", actor="dpo")
        assert [e["item_id"] for e in certificate.erased] == [anna]
        assert arc.item_ids() and anna not in arc.item_ids() and bob in arc.item_ids()
        assert arc.audit.verify().ok
        arc.catalog.checkpoint()  # PostgreSQL: VACUUM of the shredded keys' tables
    finally:
        arc.close()


def test_a_sweep_started_on_two_nodes_at_once_drops_and_purges_each_item_once(
    catalog_url: str, tmp_path: Path,
) -> None:
    """Quality and training end first (their keys are destroyed), legal years later
    (the item is purged): two nodes sweeping at once do each step exactly once."""
    node_a = make_archive(tmp_path / "data", catalog_url=catalog_url)
    # A second node: its own catalog engine and facade over the same keys, blobs, index.
    node_b = Archive(data_dir=node_a.data_dir, config=node_a.config,
                     catalog=Catalog(catalog_url), store=node_a.store, index=node_a.index,
                     keyring=node_a.keyring, anchor=MemoryAnchor())
    try:
        t0 = datetime.now(UTC) - timedelta(days=1)
        ids = {node_a.ingest(email_item(customer=f"c{n}@customer.nl", started_at=t0,
                                        body=f"mail {n}")).item_id for n in range(40)}

        def both(when: datetime) -> list[SweepReport]:
            reports: list[SweepReport] = []
            threads = [threading.Thread(target=lambda n=n: reports.append(
                sweep(n, now=when, actor="sweeper", batch=4))) for n in (node_a, node_b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(reports) == 2 and not any(r.failed for r in reports)
            return reports

        dropped = [d for r in both(t0 + timedelta(days=400)) for d in r.dropped]
        assert sorted(dropped) == sorted((i, p) for i in ids for p in ("quality", "training"))
        assert len(node_a.audit.events(action="retention_drop", limit=1000)) == len(dropped)
        purged = [i for r in both(t0 + timedelta(days=4000)) for i in r.purged]
        assert sorted(purged) == sorted(ids)  # each once, none twice, none left
        with node_a.catalog.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(cat.tombstones)
                                ).scalar_one() == len(ids)
        assert node_a.item_ids() == []
    finally:
        node_b.catalog.dispose()
        node_a.close()
