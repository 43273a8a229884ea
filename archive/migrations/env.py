"""Alembic's entry point: runs the migrations on the connection the catalog passes.

Never run against a URL of its own: ``Catalog.create_schema`` holds the write
transaction (and on PostgreSQL the writers' lock), so migrations of several
nodes starting at once run one after the other, and the schema change commits
or rolls back as one transaction.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

# Every module that defines tables on the shared metadata, so it is complete here.
import archive.cluster
import archive.jobs
import archive.keyring_store
import archive.ledger.tables
import archive.quality_tables
import archive.sessions
import archive.training_tables  # noqa: F401
from archive.catalog import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it; Alembic's batch mode does that.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("catalog migrations run through archive.catalog.Catalog.create_schema")
run_migrations(_connection)
