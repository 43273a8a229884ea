"""The sealed keyring in the catalog (``keys.ringstore``'s shared implementation).

With a PostgreSQL catalog every node reads the same keyring row, so a node
keeps nothing that matters on its own disk and a rotation on one node is seen
by the others at their next key use (the row's revision is the stamp they
compare). The row holds what the keyring file held: a public header and a body
sealed by the keyring key, which only the master key (from the key provider,
never the catalog) unwraps; a copy of the catalog still opens nothing.
Changes are serialised across nodes by ``Catalog.exclusive``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa

from archive.catalog import Catalog, UTCDateTime, metadata
from keys import MasterKeyError

#: The one row's key: one keyring per catalog.
KEYRING_ROW: Final = "keyring"

sealed_keyring = sa.Table(
    "sealed_keyring",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


class CatalogKeyringStorage:
    """One row of ``sealed_keyring``; its revision goes up with every save."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def describe(self) -> str:
        return f"in the catalog ({self._catalog.write_engine.url.render_as_string()})"

    def stamp(self) -> object | None:
        with self._catalog.read() as conn:
            return conn.execute(sa.select(sealed_keyring.c.revision)
                                .where(sealed_keyring.c.name == KEYRING_ROW)).scalar()

    def load(self) -> tuple[bytes, object]:
        with self._catalog.read() as conn:
            row = conn.execute(sa.select(sealed_keyring.c.sealed, sealed_keyring.c.revision)
                               .where(sealed_keyring.c.name == KEYRING_ROW)).first()
        if row is None:
            raise MasterKeyError(f"keyring {self.describe()} does not exist")
        return bytes(row.sealed), row.revision

    def save(self, raw: bytes) -> object:
        now = datetime.now(UTC)
        with self._catalog.write() as conn:
            current = conn.execute(sa.select(sealed_keyring.c.revision)
                                   .where(sealed_keyring.c.name == KEYRING_ROW)).scalar()
            revision = (current or 0) + 1
            if current is None:
                conn.execute(sealed_keyring.insert().values(
                    name=KEYRING_ROW, revision=revision, sealed=raw, updated_at=now))
            else:
                conn.execute(sealed_keyring.update()
                             .where(sealed_keyring.c.name == KEYRING_ROW)
                             .values(revision=revision, sealed=raw, updated_at=now))
        return revision

    def locked(self) -> AbstractContextManager[None]:
        return self._catalog.exclusive("keyring")
