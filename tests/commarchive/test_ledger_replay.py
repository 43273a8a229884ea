"""Restoring an older ``pg_dump`` never brings an erased person back.

The drill on a real PostgreSQL server (``tests.services``, never skipped under CI),
with Debian's own ``pg_dump``/``pg_restore``: dump, erase A, restore the dump into a
fresh database. The restored catalog still holds A's keys, so ``serve`` refuses to
start, naming ``commarchive ledger replay``; the replay (audited, idempotent) destroys
A's items again from the erasure ledger, which lives outside the catalog (a file
beside the key provider, or the anchor's S3 bucket), B's items are intact and the
audit log verifies.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import pytest

from archive import rights
from archive.errors import AccessDenied, ConfigError, ItemNotFound
from archive.ledger import tables
from commarchive import runtime
from commarchive.replay import replay
from commarchive.settings import Settings
from tests.commarchive.cli.test_cli import cli
from tests.conftest import email_item
from tests.services import find_postgres_bin, postgres_database, s3_endpoint
from tests.subjects import A, B


def _env(settings: Settings) -> dict[str, str]:
    """The settings as the CLI reads them."""
    names = ("catalog_url", "keyring_store", "master_key_file", "s3_endpoint",
             "s3_access_key", "s3_region", "audit_anchor_s3_bucket")
    values = {n: getattr(settings, n) for n in names}
    env = {f"COMMARCHIVE_{n.upper()}": str(v.value if isinstance(v, Enum) else v)
           for n, v in values.items() if v is not None}
    if settings.s3_secret_key is not None:
        env["COMMARCHIVE_S3_SECRET_KEY"] = settings.s3_secret_key.get_secret_value()
    return env


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _pg_tool(name: str, *args: str) -> None:
    done = subprocess.run([str(find_postgres_bin() / name), *args], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("where", ["file", "s3"])
def test_a_restored_dump_is_refused_until_the_ledger_is_replayed(
    tmp_path: Path, where: str
) -> None:
    fields: dict[str, object] = {
        "data_dir": tmp_path / "arc", "catalog_url": postgres_database(),
        "keyring_store": "catalog", "master_key_file": tmp_path / "secrets" / "master.key"}
    if where == "s3":
        s3 = s3_endpoint()
        fields.update(audit_anchor_s3_bucket=f"replay-{uuid.uuid4().hex[:12]}",
                      s3_endpoint=s3["endpoint_url"], s3_access_key=s3["access_key"],
                      s3_secret_key=s3["secret_key"], s3_region=s3["region"])
    settings = Settings(**fields)  # type: ignore[arg-type]
    arc = runtime.init_archive(settings)
    try:
        erased = [arc.ingest(email_item(customer=A.email, body=f"A's words {n}")).item_id
                  for n in range(2)]
        kept = {arc.ingest(item).item_id: item.original for item in (
            email_item(customer=B.email, body="B's words"),)}
        dump = tmp_path / "catalog.dump"
        _pg_tool("pg_dump", "--format=custom", f"--file={dump}", _libpq(settings.catalog_url))
        rights.erase_subject(arc, A.email, actor="dpo")
    finally:
        arc.close()

    fresh = postgres_database()
    _pg_tool("pg_restore", "--no-owner", f"--dbname={_libpq(fresh)}", str(dump))
    restored = settings.model_copy(update={"catalog_url": fresh})
    env = _env(restored)
    data_dir = tmp_path / "arc"

    serve = cli("serve", "--http", "127.0.0.1:0", data_dir=data_dir, env=env, check=False)
    assert serve.returncode == 1, serve.stdout + serve.stderr
    assert "behind the erasure ledger" in serve.stderr and "ledger replay" in serve.stderr
    assert "Traceback" not in serve.stderr
    with pytest.raises(ConfigError, match="ledger replay"):
        runtime.open_archive(restored)
    status = json.loads(cli("ledger", "status", data_dir=data_dir, env=env).stdout)
    assert status["applied"] < status["head"]
    assert sorted(i for e in status["pending"] for i in e["item_ids"]) == sorted(erased)

    replayed = json.loads(cli("ledger", "replay", data_dir=data_dir, env=env).stdout)
    assert sorted(i for e in replayed["replayed"] for i in e["item_ids"]) == sorted(erased)
    assert replayed["applied"] == replayed["head"] == status["head"]
    again = json.loads(cli("ledger", "replay", data_dir=data_dir, env=env).stdout)
    assert again["replayed"] == []

    arc = runtime.open_archive(restored)  # what serve opens first: no longer refused
    try:
        for item_id in erased:
            with pytest.raises(ItemNotFound) as gone:
                arc.vault.record(item_id)
            assert gone.value.gone
            with pytest.raises(AccessDenied):
                arc.vault.dek(item_id)  # the keys are shredded again
        for item_id, original in kept.items():
            assert arc.vault.unseal_for_system(item_id, "original") == original
        first, second = arc.audit.events(action="ledger_replayed")
        assert first.actor == "cli" and first.detail["replayed"] == replayed["replayed"]
        assert second.detail["replayed"] == []
        assert sorted(i for e in arc.audit.events(action="erasure_replayed")
                      for i in e.item_ids) == sorted(erased)
    finally:
        arc.close()
    assert "audit log OK" in cli("audit", "verify", data_dir=data_dir, env=env).stdout


def test_an_archive_from_before_bookmarks_opens_and_records_its_bookmark(
    tmp_path: Path,
) -> None:
    """Every entry of an upgraded archive's ledger was applied: nothing to refuse."""
    settings = Settings(data_dir=tmp_path / "arc", master_key_file=tmp_path / "k" / "m.key")
    arc = runtime.init_archive(settings)
    try:
        arc.ingest(email_item(customer=A.email, body="erase me"))
        rights.erase_subject(arc, A.email, actor="dpo")
        head = arc.vault.ledger.head(fresh=True)
        with arc.catalog.write() as conn:  # as the migration leaves an older archive
            conn.execute(tables.ledger_state.delete())
    finally:
        arc.close()
    arc = runtime.open_archive(settings)
    try:
        with arc.catalog.read() as conn:
            assert tables.applied(conn) == head
    finally:
        arc.close()


def test_an_erasure_whose_transaction_failed_after_its_entry_is_completed_by_replay(
    tmp_path: Path,
) -> None:
    """The entry is written before the erasure commits; if the commit never comes, the
    ledger says erased while the catalog still holds the keys: refused, then replayed."""
    settings = Settings(data_dir=tmp_path / "arc", master_key_file=tmp_path / "k" / "m.key")
    arc = runtime.init_archive(settings)
    try:
        item_id = arc.ingest(email_item(customer=A.email, body="erase me")).item_id
        with pytest.raises(RuntimeError), arc.vault.write() as tx:
            arc.vault.purge_rows(tx.conn, [item_id], reason="erasure", reference=None,
                                 now=datetime.now(UTC))
            raise RuntimeError("the node died before the commit")
        assert arc.vault.record(item_id).id == item_id
    finally:
        arc.close()
    proc = cli("serve", "--http", "127.0.0.1:0", data_dir=tmp_path / "arc", check=False,
               env={"COMMARCHIVE_MASTER_KEY_FILE": str(tmp_path / "k" / "m.key")})
    assert proc.returncode == 1 and "ledger replay" in proc.stderr
    arc = runtime.open_archive(settings, behind_ledger_ok=True)
    try:
        assert replay(arc, actor="ops")["replayed"]
        with pytest.raises(ItemNotFound):
            arc.vault.record(item_id)
    finally:
        arc.close()
    runtime.open_archive(settings).close()
