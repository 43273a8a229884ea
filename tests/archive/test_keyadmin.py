"""Key administration: purpose keys are retired only when nothing needs them, and a
read that still needs a retired one fails naming it; master rotations are audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import keys
from archive import catalog as cat
from archive import keyadmin
from archive.config import Role
from archive.errors import InvalidRequest
from archive.service import Archive
from tests.conftest import email_item


def test_retiring_a_purpose_key_still_in_use_is_refused(archive: Archive) -> None:
    item_id = archive.ingest(email_item(body="still wrapped by v1")).item_id
    archive.keyring.rotate("quality")  # a new version, nothing re-wrapped yet
    with pytest.raises(InvalidRequest, match="still wrapped") as err:
        keyadmin.retire_key(archive.vault, "quality", 1, actor="admin")
    assert "1 data key(s)" in str(err.value)
    with pytest.raises(InvalidRequest, match="current key"):
        keyadmin.retire_key(archive.vault, "quality", 2, actor="admin")
    assert archive.keyring.versions("quality") == [1, 2]
    assert archive.vault.dek(item_id, "quality")


def test_after_rotation_and_retirement_reads_work_and_the_old_version_is_gone(
    archive: Archive,
) -> None:
    item_id = archive.ingest(email_item(body="rotate me")).item_id
    with archive.catalog.read() as conn:
        old_row = conn.execute(sa.select(cat.wrapped_keys).where(
            cat.wrapped_keys.c.item_id == item_id,
            cat.wrapped_keys.c.purpose == "quality")).one()
    keyadmin.rotate_key(archive.vault, "quality", actor="admin")
    keyadmin.retire_key(archive.vault, "quality", 1, actor="admin")
    quality = archive.users.authenticate(archive.users.add("q", Role.QUALITY))
    assert b"rotate me" in archive.read_content(quality, item_id).data
    assert archive.keyring.versions("quality") == [2]
    # A wrapped key from before the rotation (as an old backup holds it) opens nothing,
    # and says why.
    with pytest.raises(keys.UnknownKey, match="was retired"):
        archive.keyring.unwrap(keys.WrappedKey("quality", 1, old_row.blob), item_id)
    events = archive.audit.events(action="retire_key")
    assert [(e.purpose, e.detail["version"]) for e in events] == [("quality", 1)]
    assert archive.audit.verify().ok
