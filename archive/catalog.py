"""The catalog: item state on SQLAlchemy Core (SQLite by default, or PostgreSQL).

It holds state, never communication content: parties and subject identifiers
(needed to answer data-subject requests), purpose tags, wrapped DEKs, users,
holds, requests and the audit chain. Content lives sealed in the object store.

Writes are serialised on every backend, as the audit chain and the dedupe
checks assume: SQLite takes its write lock up front (``BEGIN IMMEDIATE``);
PostgreSQL, where several nodes share one catalog, takes one transaction-level
advisory lock. The schema is made and upgraded by the migrations in
``archive.migrations``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from archive.errors import TemporaryFailure

#: The first migration: what a catalog made before migrations existed is at.
BASELINE_REVISION: Final = "0001_baseline"

BUSY_TIMEOUT_MS: Final = 10_000
#: The PostgreSQL advisory lock every catalog write transaction holds (any fixed number).
PG_WRITE_LOCK: Final = 0x636F6D6D  # "comm"
#: How long a PostgreSQL writer waits for that lock before the write fails (temporarily).
PG_LOCK_TIMEOUT: Final = "10s"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalog")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: datetime | None, dialect: sa.Dialect
    ) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False, index=True),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("ingested_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("transcript_status", sa.String(16), nullable=False, index=True),
    sa.Column("transcript_reason", sa.Text),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("dedupe_key", sa.String(600), unique=True),
    sa.Column("thread_key", sa.String(600), index=True),
    sa.Column("restricted", sa.Boolean, nullable=False, default=False),
    sa.Column("index_dirty", sa.Boolean, nullable=False, default=False),
    sa.Column("language", sa.String(16)),
)

parts = sa.Table(
    "parts",
    metadata,
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    # Large parts live sealed in the object store; small ones sealed inline here,
    # so an ingest writes one blob and commits one row (fewer fsyncs).
    sa.Column("blob_key", sa.String(300)),
    sa.Column("inline", sa.LargeBinary),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("plain_size", sa.BigInteger, nullable=False),
    sa.Column("sealed_size", sa.BigInteger, nullable=False),
)

parties = sa.Table(
    "parties",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("address", sa.String(600), nullable=False),
    sa.Column("name", sa.String(600)),
    sa.Column("side", sa.String(16), nullable=False),
    sa.Column("channel_index", sa.Integer),
    sa.Index("ix_parties_item", "item_id"),
)

subjects = sa.Table(
    "subjects",
    metadata,
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("identifier", sa.String(600), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Index("ix_subjects_identifier", "identifier"),
)

purpose_tags = sa.Table(
    "purpose_tags",
    metadata,
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("purpose", sa.String(64), primary_key=True),
    sa.Column("retain_until", UTCDateTime, nullable=False, index=True),
)

wrapped_keys = sa.Table(
    "wrapped_keys",
    metadata,
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("purpose", sa.String(64), primary_key=True),
    sa.Column("kek_version", sa.Integer, nullable=False),
    sa.Column("blob", sa.LargeBinary, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False, index=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("purpose", sa.String(64)),
    sa.Column("item_ids", sa.Text, nullable=False),
    sa.Column("subject", sa.String(600), index=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

holds = sa.Table(
    "holds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scope", sa.String(16), nullable=False),  # item | subject | search
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("case_ref", sa.String(200), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("lifted_by", sa.String(200)),
    sa.Column("lifted_at", UTCDateTime),
    sa.Column("lift_note", sa.Text),
)

hold_items = sa.Table(
    "hold_items",
    metadata,
    sa.Column("hold_id", sa.ForeignKey("holds.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_hold_items_item", "item_id"),
)

restrictions = sa.Table(
    "restrictions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("request_id", sa.Integer),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("lifted_by", sa.String(200)),
    sa.Column("lifted_at", UTCDateTime),
    sa.Column("lift_note", sa.Text),
    sa.Index("ix_restrictions_item", "item_id"),
)

# A restriction asked for by a subject (Art. 18): it covers their items archived later too.
subject_restrictions = sa.Table(
    "subject_restrictions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("identifier", sa.String(600), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("lifted_at", UTCDateTime),
)

# An objection (Art. 21) or consent withdrawal (Art. 7(3)) by a subject: the purposes
# (a JSON list) it ended also never apply to the subject's items archived later.
subject_objections = sa.Table(
    "subject_objections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("identifier", sa.String(600), nullable=False, index=True),
    sa.Column("purposes", sa.Text, nullable=False),
    sa.Column("withdrawal", sa.Boolean, nullable=False),
    sa.Column("request_id", sa.Integer),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

disclosures = sa.Table(
    "disclosures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("recipient", sa.String(300), nullable=False),
    sa.Column("legal_basis", sa.Text, nullable=False),
    sa.Column("disclosed_at", UTCDateTime, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("reference", sa.String(300)),
    sa.Index("ix_disclosures_item", "item_id"),
)

item_annotations = sa.Table(
    "annotations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("part", sa.String(100), nullable=False),  # sealed part holding the text
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("request_id", sa.Integer),
    sa.Index("ix_annotations_item", "item_id"),
)

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("subject", sa.String(600), nullable=False, index=True),
    sa.Column("requested_by", sa.String(300), nullable=False),
    sa.Column("verified_by", sa.String(200)),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("closed_at", UTCDateTime),
    sa.Column("note", sa.Text),
)

tombstones = sa.Table(
    "tombstones",
    metadata,
    sa.Column("item_id", sa.String(40), primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("ingested_at", UTCDateTime, nullable=False),
    sa.Column("purged_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("reference", sa.String(200)),
    # Keyed hash of the item's dedupe key: a late re-delivery of a purged item is
    # recognised without the tombstone holding anything personal.
    sa.Column("dedupe_mark", sa.String(64), index=True),
)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The new row's integer primary key."""
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def held_item_ids(conn: Connection, item_ids: Iterable[str] | None = None) -> set[str]:
    """Items under at least one active (not lifted) legal hold."""
    stmt = (
        sa.select(hold_items.c.item_id)
        .join(holds, holds.c.id == hold_items.c.hold_id)
        .where(holds.c.lifted_at.is_(None))
    )
    if item_ids is not None:
        stmt = stmt.where(hold_items.c.item_id.in_(list(item_ids)))
    return {str(r[0]) for r in conn.execute(stmt)}


class Catalog:
    """Engines and transactions. Writes take SQLite's write lock up front."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        self.write_engine = sa.create_engine(url, connect_args=connect_args,
                                             pool_pre_ping=not self.is_sqlite)
        self.read_engine = sa.create_engine(url, connect_args=connect_args,
                                            pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            _configure_sqlite(self.write_engine, immediate=True)
            _configure_sqlite(self.read_engine, immediate=False)
        elif self.write_engine.dialect.name == "postgresql":
            _configure_postgresql(self.write_engine)
        self._write_lock = threading.RLock()
        self._job_locks: dict[str, threading.Lock] = {}

    def create_schema(self) -> None:
        """Make or upgrade the schema in place (``archive.migrations``), in one write
        transaction: nodes starting together migrate one after the other."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", "archive:migrations")
        with self.write() as conn:
            config.attributes["connection"] = conn
            tables = set(sa.inspect(conn).get_table_names())
            if "alembic_version" not in tables and "items" in tables:
                # Made from the metadata before migrations existed: that is the baseline.
                command.stamp(config, BASELINE_REVISION)
            command.upgrade(config, "head")

    def schema_revision(self) -> str | None:
        """The migration the catalog is at (None: not made yet)."""
        with self.read() as conn:
            if "alembic_version" not in sa.inspect(conn).get_table_names():
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One durable write transaction; failures surface as TemporaryFailure."""
        with self._write_lock:
            try:
                with self.write_engine.begin() as conn:
                    yield conn
            except SQLAlchemyError as exc:
                if isinstance(exc, sa.exc.IntegrityError):
                    raise
                raise TemporaryFailure("catalog write", reason=type(exc).__name__) from exc

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Run a job (e.g. the retention sweep) once at a time across every process and
        node on this catalog: waits until no other holder of ``name`` is left.

        PostgreSQL: a session-level advisory lock on a connection of its own (so it
        never holds up the writers). SQLite: a lock file beside the database.
        """
        if self.is_sqlite:
            database = self.write_engine.url.database
            if not database or database == ":memory:":
                # One process only: a thread lock is enough (not the writers' lock,
                # which would hold every other writer up for the whole job).
                with self._job_locks.setdefault(name, threading.Lock()):
                    yield
                return
            with Path(f"{database}.{name}.lock").open("a") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)
            return
        key = int.from_bytes(hashlib.sha256(f"commarchive:{name}".encode()).digest()[:8],
                             "big", signed=True)
        with self.read_engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.read_engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise TemporaryFailure("catalog read", reason=type(exc).__name__) from exc

    def checkpoint(self) -> None:
        """Leave no old copy of shredded keys in the database's pages.

        SQLite: fold the WAL into the database (``secure_delete`` zeroes freed
        pages). PostgreSQL: vacuum the tables that held wrapped keys, so dead row
        versions are reclaimed now rather than whenever autovacuum runs.
        """
        if self.is_sqlite:
            with self._write_lock:
                raw = self.write_engine.raw_connection()
                try:
                    raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
                finally:
                    raw.close()
        elif self.write_engine.dialect.name == "postgresql":
            with self.write_engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql(f"VACUUM {wrapped_keys.name}, {tombstones.name}")

    def dispose(self) -> None:
        self.write_engine.dispose()
        self.read_engine.dispose()


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _configure_postgresql(engine: Engine) -> None:
    """Every write transaction first takes the writers' advisory lock (released at its end)."""

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{PG_LOCK_TIMEOUT}'")
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")
