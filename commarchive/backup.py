"""Backup and restore that never bring an erased person back.

``backup`` writes one tar file while the archive serves: the catalog through
SQLite's online backup API (a consistent snapshot, WAL included), then the
keyring, the configuration and the local store's sealed blobs. It holds no
master key, no audit anchor and no erasure ledger: those stay with the key
provider. The search index is left out too; it is derived, and ``restore``
rebuilds it.

``restore`` unpacks into a new data directory, opens the keyring through the
configured provider, and before anything else replays the erasure ledger:
every shred and purge ever recorded is applied again to the restored catalog
(items already gone are skipped), so a backup taken before an erasure never
yields the erased keys. Then it rebuilds the index and records one ``restore``
audit event listing what it replayed; that event is anchored, so the chain
verifies from the restored state on. The restored directory continues the
archive: the one it replaces must not be used again.

PostgreSQL catalogs and S3 stores are backed up with their own tools
(``pg_dump``, bucket versioning); ``backup`` refuses a catalog it cannot
snapshot rather than writing an inconsistent file. After restoring a dump,
``commarchive ledger replay`` does the replay (``commarchive.replay``).

``move_ledger`` copies an archive's ledger file into the audit anchor's S3
Object Lock bucket, where stateless nodes keep it.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import sqlite3
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from archive.catalog import sqlite_url
from archive.config import CONFIG_FILE_NAME
from archive.errors import ConfigError
from archive.ledger.file import FileLedger
from archive.service import Archive
from commarchive import runtime
from commarchive.replay import replay_ledger
from commarchive.settings import Settings, StoreBackend

FORMAT_VERSION: Final = 1
MANIFEST: Final = "manifest.json"
BLOBS_PREFIX: Final = runtime.BLOBS_DIR + "/"
_FILES: Final = (runtime.CATALOG_FILE, runtime.KEYRING_FILE, CONFIG_FILE_NAME)


def _catalog_path(settings: Settings, data_dir: Path) -> Path:
    path = data_dir / runtime.CATALOG_FILE
    if settings.catalog_url and settings.catalog_url != sqlite_url(path):
        raise ConfigError("backup snapshots the embedded SQLite catalog only; back up "
                          "PostgreSQL with pg_dump (README, Keys and backups)")
    return path


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def backup(settings: Settings, arc: Archive, out: Path) -> dict[str, Any]:
    """Write a consistent backup of the open archive to ``out`` (mode 0600)."""
    data_dir = arc.data_dir
    catalog = _catalog_path(settings, data_dir)
    if out.resolve().is_relative_to(data_dir.resolve()):
        raise ConfigError(f"{out} is inside the data directory; write the backup elsewhere")
    created_at = datetime.now(UTC)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".backup-") as tmp:
        snapshot = Path(tmp) / runtime.CATALOG_FILE
        lock_path = data_dir / (runtime.KEYRING_FILE + ".lock")
        # Under the keyring's lock, so no key version appears or is retired between
        # the catalog snapshot and the keyring copy.
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                source = sqlite3.connect(catalog)
                target = sqlite3.connect(snapshot)
                try:
                    source.backup(target)
                finally:
                    target.close()
                    source.close()
                keyring = (data_dir / runtime.KEYRING_FILE).read_bytes()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        blobs = sorted(p for p in (data_dir / runtime.BLOBS_DIR).rglob("*") if p.is_file()) \
            if settings.store is StoreBackend.LOCAL else []
        manifest = {"format": FORMAT_VERSION, "archive_id": arc.keyring.archive_id,
                    "created_at": created_at.isoformat(), "store": settings.store.value,
                    "blobs": len(blobs)}
        partial = out.with_name(out.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            tar.add(snapshot, runtime.CATALOG_FILE)
            _add_bytes(tar, runtime.KEYRING_FILE, keyring)
            _add_bytes(tar, CONFIG_FILE_NAME, (data_dir / CONFIG_FILE_NAME).read_bytes())
            for blob in blobs:
                try:
                    data = blob.read_bytes()
                except FileNotFoundError:
                    continue  # purged since the snapshot: the ledger replays that purge
                _add_bytes(tar, BLOBS_PREFIX + blob.relative_to(
                    data_dir / runtime.BLOBS_DIR).as_posix(), data)
            tar.close()
            fh.flush()
            os.fsync(fh.fileno())
        partial.replace(out)
    arc.vault.record_event(actor="cli", role="admin", action="backup",
                           detail={"created_at": manifest["created_at"],
                                   "blobs": len(blobs)})
    return manifest


def _allowed(name: str) -> bool:
    if name in (MANIFEST, *_FILES):
        return True
    parts = name.split("/")
    return name.startswith(BLOBS_PREFIX) and ".." not in parts and "" not in parts[1:]


def restore(settings: Settings, backup_file: Path, data_dir: Path) -> dict[str, Any]:
    """Unpack ``backup_file`` into a new ``data_dir``, replay the erasure ledger, rebuild
    the index, and record the restore; returns what was restored and replayed."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ConfigError(f"{data_dir} is not empty; restore into a new directory")
    with tarfile.open(backup_file, mode="r:") as tar:
        members = tar.getmembers()
        bad = [m.name for m in members if not (m.isfile() and _allowed(m.name))]
        if bad:
            raise ConfigError(f"{backup_file} is not a commarchive backup (unexpected "
                              f"{bad[0]!r})")
        names = {m.name for m in members}
        if MANIFEST not in names or not set(_FILES) <= names:
            raise ConfigError(f"{backup_file} is not a complete commarchive backup")
        manifest_file = tar.extractfile(MANIFEST)
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
        if manifest.get("format") != FORMAT_VERSION:
            raise ConfigError(f"{backup_file}: unknown backup format {manifest.get('format')}")
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        data_dir.chmod(0o700)
        tar.extractall(data_dir, members=[m for m in members if m.name != MANIFEST],
                       filter="data")
    for path in data_dir.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    restored = settings.model_copy(update={"data_dir": data_dir})
    arc = runtime.open_archive(restored, behind_ledger_ok=True)
    try:
        if arc.keyring.archive_id != manifest["archive_id"]:
            raise ConfigError("the restored keyring belongs to another archive")
        cut = arc.audit.check_ledger()
        if cut is not None:  # replaying a shortened ledger could bring erased people back
            raise ConfigError(f"refusing to restore: {cut}; {data_dir} holds an unfinished "
                              "restore: remove it, and restore once the ledger is whole")
        replayed = replay_ledger(arc)
        arc.reindex()
        arc.vault.record_event(
            actor="cli", role="admin", action="restore",
            detail={"backup_created_at": manifest["created_at"],
                    "replayed": [e.public() for e in replayed]})
    finally:
        arc.close()
    return {"restored": str(data_dir), "backup_created_at": manifest["created_at"],
            "replayed": [e.public() for e in replayed]}


def move_ledger(settings: Settings, *, actor: str = "cli") -> dict[str, Any]:
    """Copy the erasure ledger file into the audit anchor's S3 Object Lock bucket, line
    for line (so the chain and the heads the anchor names stay valid), then rename the
    file ``*.moved``; nodes then find the ledger in the bucket. Run it with every node
    stopped; running it again copies nothing twice."""
    if not settings.audit_anchor_s3_bucket:
        raise ConfigError("set COMMARCHIVE_AUDIT_ANCHOR_S3_BUCKET (and the COMMARCHIVE_S3_* "
                          "settings) to move the erasure ledger into that bucket")
    data_dir = settings.require_data_dir()
    catalog = runtime.build_catalog(settings, data_dir)
    try:
        catalog.create_schema()
        ring = runtime.open_keyring(settings, data_dir, catalog)
        try:
            path = runtime.ledger_path(settings, ring.archive_id)
            lines = FileLedger(path, ring.secret("audit")).export()
            runtime.build_anchor(settings, data_dir, ring.archive_id).close()  # the bucket
            target = runtime.s3_ledger(settings, ring, catalog)
            written = target.adopt(lines) if lines else 0  # none, or moved before
        finally:
            ring.close()
    finally:
        catalog.dispose()
    if path.exists():
        path.replace(path.with_name(path.name + ".moved"))
    report = {"from": str(path), "to": target.describe(), "entries": len(lines),
              "written": written}
    arc = runtime.open_archive(settings)
    try:
        arc.vault.record_event(actor=actor, role="admin", action="ledger_moved", detail=report)
    finally:
        arc.close()
    return report
