"""Composition root: the only place that picks backends and opens the archive.

It also decides where the keys live: the master key comes from the configured
provider (a key file outside the data directory by default, a passphrase, or
an HSM), and the audit anchor and the erasure ledger sit with it, so that a
copy of the data directory opens nothing and vouches for nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import keys
from archive import anonymise
from archive.anchors import AuditAnchor
from archive.anchors.file import FileAnchor
from archive.catalog import Catalog, sqlite_url
from archive.config import CONFIG_FILE_NAME, DEFAULT_CONFIG_TOML, load_config
from archive.errors import ConfigError
from archive.index import SearchIndex
from archive.ledger import ErasureLedger
from archive.ledger.file import FileLedger
from archive.rights import case_retention
from archive.service import Archive, OutsideEraser, OutsideSweeper
from archive.store import ObjectStore
from archive.training import install as install_training_sets
from commarchive.nodes import check_shared_settings
from commarchive.replay import require_caught_up
from commarchive.settings import (
    IndexBackend,
    KeyProviderKind,
    KeyringStoreKind,
    Settings,
    StoreBackend,
)
from keys.providers import KeyProvider, refuse_inside
from keys.providers.file import FileKeyProvider, decode_key, read_key_file
from keys.providers.memory import MemoryKeyProvider
from keys.ringstore import KeyringStorage

if TYPE_CHECKING:
    from archive.ledger.s3 import S3Ledger

KEYRING_FILE: Final = "keyring.sealed"
#: Where old archives kept their master key; refused now (``keys move-master``).
LEGACY_MASTER_KEY_FILE: Final = "master.key"
LEGACY_ANCHOR_FILE: Final = "audit.anchor"
CATALOG_FILE: Final = "catalog.sqlite"
INDEX_FILE: Final = "index.sqlite"
BLOBS_DIR: Final = "blobs"
APP_DIR_NAME: Final = "commarchive"


def config_dir() -> Path:
    """The per-user directory for key files, anchors and ledgers ($XDG_CONFIG_HOME)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP_DIR_NAME


def key_file_path(settings: Settings, archive_id: str) -> Path:
    return settings.master_key_file or config_dir() / f"{archive_id}.key"


def _beside_keys(settings: Settings, archive_id: str) -> Path:
    if settings.key_provider is KeyProviderKind.FILE and settings.master_key is None:
        return key_file_path(settings, archive_id).parent
    return config_dir()


def anchor_path(settings: Settings, archive_id: str) -> Path:
    return settings.audit_anchor or _beside_keys(settings, archive_id) / f"{archive_id}.anchor"


def ledger_path(settings: Settings, archive_id: str) -> Path:
    return (settings.erasure_ledger
            or _beside_keys(settings, archive_id) / f"{archive_id}.erasures")


def build_ledger(settings: Settings, data_dir: Path, ring: keys.Keyring,
                 catalog: Catalog) -> ErasureLedger:
    """The erasure ledger in the anchor's S3 Object Lock bucket when one is configured
    (nothing on a node's disk), else the append-only file beside the key provider."""
    path = ledger_path(settings, ring.archive_id)
    if settings.audit_anchor_s3_bucket:
        if path.exists() and path.stat().st_size > 0:
            raise ConfigError(
                f"the erasure ledger is still in {path}; copy it into the S3 bucket with "
                "`commarchive ledger move` (README, Keys and backups)")
        return s3_ledger(settings, ring, catalog)
    refuse_inside(path, data_dir, "erasure ledger")
    return FileLedger(path, ring.secret("audit"))


def s3_ledger(settings: Settings, ring: keys.Keyring, catalog: Catalog) -> S3Ledger:
    """The erasure ledger's place in the anchor's bucket: ``erasure-ledger/ARCHIVE-ID/``."""
    from archive.ledger.s3 import S3Ledger

    assert settings.audit_anchor_s3_bucket
    return S3Ledger(**_s3_connection(settings), bucket=settings.audit_anchor_s3_bucket,
                    prefix=f"erasure-ledger/{ring.archive_id}", key=ring.secret("audit"),
                    catalog=catalog, retention_days=settings.audit_anchor_s3_retention_days)


def _s3_connection(settings: Settings) -> dict[str, Any]:
    """How to reach the configured S3 service (the store and the anchor share it)."""
    assert settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key
    return {
        "endpoint": settings.s3_endpoint.removeprefix("http://").removeprefix("https://"),
        "access_key": settings.s3_access_key,
        "secret_key": settings.s3_secret_key.get_secret_value(),
        "secure": settings.s3_secure and not settings.s3_endpoint.startswith("http://"),
        "region": settings.s3_region,
    }


def build_anchor(settings: Settings, data_dir: Path, archive_id: str) -> AuditAnchor:
    """The S3 Object Lock anchor when a bucket is configured, else the append-only file."""
    if settings.audit_anchor_s3_bucket:
        from archive.anchors.s3 import S3Anchor

        anchor = S3Anchor(
            **_s3_connection(settings),
            bucket=settings.audit_anchor_s3_bucket, prefix=f"audit-anchor/{archive_id}",
            retention_days=settings.audit_anchor_s3_retention_days)
        anchor.ensure_bucket()
        return anchor
    path = anchor_path(settings, archive_id)
    refuse_inside(path, data_dir, "audit anchor")
    return FileAnchor(path)


def build_provider(settings: Settings, data_dir: Path, archive_id: str, *,
                   create: bool = False) -> KeyProvider:
    """The master key's provider; with ``create``, a new key file or HSM key."""
    kind = settings.key_provider
    if kind is KeyProviderKind.PASSPHRASE:
        from keys.providers.passphrase import PassphraseKeyProvider, read_passphrase

        default = "credential" if os.environ.get("CREDENTIALS_DIRECTORY") else "prompt"
        return PassphraseKeyProvider(read_passphrase(
            settings.passphrase_source or default, allow_env=settings.dev_keys_from_env,
            confirm=create))
    if kind is KeyProviderKind.PKCS11:
        from keys.providers.pkcs11 import Pkcs11KeyProvider

        assert settings.pkcs11_module and settings.pkcs11_token and settings.pkcs11_pin
        hsm = Pkcs11KeyProvider(settings.pkcs11_module, token_label=settings.pkcs11_token,
                                pin=settings.pkcs11_pin.get_secret_value(),
                                key_label=settings.pkcs11_key_label)
        if create:
            hsm.create_key()
        return hsm
    if settings.master_key is not None:
        if not settings.dev_keys_from_env:
            raise keys.MasterKeyError(
                "COMMARCHIVE_MASTER_KEY is read only in development mode "
                "(COMMARCHIVE_DEV_KEYS_FROM_ENV=true); use a key file, a passphrase or pkcs11")
        return MemoryKeyProvider(decode_key(settings.master_key.get_secret_value(),
                                            "COMMARCHIVE_MASTER_KEY"))
    path = key_file_path(settings, archive_id)
    if create:
        return FileKeyProvider.create(path, data_dir=data_dir)
    return FileKeyProvider(path, data_dir=data_dir)


def _refuse_legacy(data_dir: Path) -> None:
    legacy = data_dir / LEGACY_MASTER_KEY_FILE
    if legacy.exists():
        raise keys.MasterKeyError(
            f"{legacy}: this archive keeps its master key inside the data directory, so a "
            "copy of the directory opens everything; move it out with `commarchive "
            "--data-dir DIR keys move-master` (README, Keys and backups)")


def build_store(settings: Settings, data_dir: Path) -> ObjectStore:
    if settings.store is StoreBackend.S3:
        from archive.store.s3 import S3Store

        s3 = S3Store(**_s3_connection(settings), bucket=settings.s3_bucket)
        s3.ensure_bucket()
        return s3
    from archive.store.local import LocalStore

    return LocalStore(data_dir / BLOBS_DIR)


def build_index(settings: Settings, data_dir: Path) -> SearchIndex:
    if settings.index is IndexBackend.ELASTICSEARCH:
        from archive.index.elastic import ElasticIndex

        assert settings.es_url
        return ElasticIndex(
            settings.es_url,
            prefix=settings.es_prefix,
            username=settings.es_username,
            password=settings.es_password.get_secret_value() if settings.es_password else None,
            ca_certs=str(settings.es_ca_certs) if settings.es_ca_certs else None,
        )
    from archive.index.sqlite import SqliteIndex

    return SqliteIndex(data_dir / INDEX_FILE)


def build_catalog(settings: Settings, data_dir: Path) -> Catalog:
    return Catalog(settings.catalog_url or sqlite_url(data_dir / CATALOG_FILE))


def keyring_storage(settings: Settings, data_dir: Path, catalog: Catalog) -> KeyringStorage:
    """The keyring file in the data directory, or the shared catalog's row (stateless nodes)."""
    if settings.keyring_store is KeyringStoreKind.CATALOG:
        from archive.keyring_store import CatalogKeyringStorage

        return CatalogKeyringStorage(catalog)
    from keys.ringstore.file import FileKeyringStorage

    return FileKeyringStorage(data_dir / KEYRING_FILE)


def is_archive(data_dir: Path) -> bool:
    return (data_dir / KEYRING_FILE).exists() or (data_dir / CONFIG_FILE_NAME).exists()


def init_archive(settings: Settings, *, config_toml: str = DEFAULT_CONFIG_TOML) -> Archive:
    """Create a new archive in ``settings.data_dir``; refuses to touch an existing one.

    ``config_toml`` becomes its ``archive.toml`` (``commarchive init`` fills in the
    organisation).
    """
    data_dir = settings.require_data_dir()
    if is_archive(data_dir):
        raise FileExistsError(f"{data_dir} already holds an archive; refusing to overwrite it")
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    archive_id = os.urandom(16).hex()
    for path, what in ((anchor_path(settings, archive_id), "audit anchor"),
                       (ledger_path(settings, archive_id), "erasure ledger")):
        refuse_inside(path, data_dir, what)
    catalog = build_catalog(settings, data_dir)
    catalog.create_schema()
    provider = build_provider(settings, data_dir, archive_id, create=True)
    try:
        ring = keys.Keyring.create(keyring_storage(settings, data_dir, catalog), provider,
                                   archive_id=archive_id)
    except BaseException:
        provider.close()
        catalog.dispose()
        raise
    (data_dir / CONFIG_FILE_NAME).write_text(config_toml)
    check_shared_settings(settings, catalog)
    config = load_config(data_dir)
    for purpose in config.purposes:
        ring.ensure_purpose(purpose.name)
    # The same keyring, not opened again: a passphrase read from a descriptor or a
    # prompt is read once.
    archive = _open(settings, lambda data_dir: build_index(settings, data_dir), ring, catalog)
    archive.index.ensure()
    return archive


def open_archive(settings: Settings, *, behind_ledger_ok: bool = False) -> Archive:
    """The archive, refused when its catalog is behind the erasure ledger (restored
    from an older dump: ``commarchive ledger replay``) unless ``behind_ledger_ok``."""
    data_dir = settings.require_data_dir()
    _refuse_not_archive(data_dir)
    # The schema first: with keyring_store=catalog the keyring is a row in it.
    catalog = build_catalog(settings, data_dir)
    try:
        catalog.create_schema()
        _refuse_keyring_file(settings, data_dir)
        check_shared_settings(settings, catalog)
        archive = _open(settings, lambda data_dir: build_index(settings, data_dir),
                        catalog=catalog)
    except BaseException:
        catalog.dispose()
        raise
    try:
        archive.index.ensure()
        if not behind_ledger_ok:
            require_caught_up(archive)
    except BaseException:
        archive.close()
        raise
    # The quality team's monitoring policies see every new e-mail and every new
    # transcript, whichever door they came in by (serve, CLI ingest and transcribe).
    from archive.quality import monitoring

    monitoring.install(archive)
    if settings.drop_folder is not None:
        archive.outside_erasers.append(_rejected_recordings_eraser(archive, settings.drop_folder))
        archive.outside_sweepers.append(_rejected_recordings_sweeper(
            archive, settings.drop_folder, timedelta(days=settings.drop_folder_rejected_days)))
    install_training_sets(archive)  # training sets expire with retention and follow erasure
    case_retention.install(archive)  # closed request cases keep only their facts in time
    return archive


def _rejected_recordings_sweeper(
    archive: Archive, drop_folder: Path, older_than: timedelta
) -> OutsideSweeper:
    """Every retention sweep also purges rejected drop-folder recordings past their time.

    They are sealed files, not items (nothing in the catalog), so the sweep
    cannot see them; without this they would be kept forever.
    """
    from ingest.dropfolder import DropFolderConfig, purge_rejected

    config = DropFolderConfig(path=drop_folder)

    def sweep(now: datetime, dry_run: bool, actor: str) -> dict[str, Any]:
        purged = purge_rejected(config, older_than=older_than, now=now.timestamp(),
                                dry_run=dry_run)
        if purged and not dry_run:
            archive.audit.record(actor=actor, role="system", action="purge_rejected",
                                 detail={"count": len(purged)})
        return {"source": "drop folder: rejected recordings", "purged": purged}

    return sweep


def _rejected_recordings_eraser(archive: Archive, drop_folder: Path) -> OutsideEraser:
    """An erasure also deletes the subject's rejected drop-folder recordings."""
    from ingest.dropfolder import DropFolderConfig, erase_rejected

    config = DropFolderConfig(path=drop_folder)

    def erase(identifiers: Sequence[str], actor: str) -> dict[str, Any]:
        erased: list[str] = []
        unattributed: set[str] = set()
        for identifier in identifiers:
            done = erase_rejected(archive, config, identifier, actor=actor)
            erased.extend(done.erased)
            unattributed.update(done.unattributed)
        return {"source": "drop folder: rejected recordings", "erased": erased,
                "unattributed": sorted(unattributed)}

    return erase


def open_preparer(settings: Settings) -> Archive:
    """An Archive for ``prepare`` only (seal and store), for ingest worker processes.

    Same configuration, keyring and object store as ``open_archive``; it never
    writes the catalog or the index (the serving process commits and indexes),
    so it sets neither up and its index is an unused in-memory one.
    """
    from archive.index.memory import MemoryIndex

    return _open(settings, lambda _: MemoryIndex())


def _refuse_not_archive(data_dir: Path) -> None:
    if not is_archive(data_dir):
        raise ConfigError(f"{data_dir} is not an archive; run `commarchive init {data_dir}`")


def _refuse_keyring_file(settings: Settings, data_dir: Path) -> None:
    if settings.keyring_store is KeyringStoreKind.CATALOG and (data_dir / KEYRING_FILE).exists():
        raise ConfigError(f"the keyring is still in {data_dir / KEYRING_FILE}; move it into "
                          "the catalog with `commarchive keys move-keyring`")


def open_keyring(settings: Settings, data_dir: Path, catalog: Catalog) -> keys.Keyring:
    """The archive's keyring, opened through the configured provider."""
    _refuse_legacy(data_dir)
    _refuse_keyring_file(settings, data_dir)
    storage = keyring_storage(settings, data_dir, catalog)
    provider = build_provider(settings, data_dir, keys.archive_id_of(storage))
    try:
        return keys.Keyring(storage, provider)
    except BaseException:
        provider.close()
        raise


def _open(settings: Settings, index: Callable[[Path], SearchIndex],
          ring: keys.Keyring | None = None, catalog: Catalog | None = None) -> Archive:
    data_dir = settings.require_data_dir()
    _refuse_not_archive(data_dir)
    catalog = catalog or build_catalog(settings, data_dir)
    ring = ring or open_keyring(settings, data_dir, catalog)
    ledger = build_ledger(settings, data_dir, ring, catalog)
    anchor = build_anchor(settings, data_dir, ring.archive_id)  # makes the S3 bucket
    anonymise.configure(customer_numbers=settings.anonymise.customer_numbers,
                        audio=settings.anonymise.audio,
                        audio_margin_s=settings.anonymise.audio_margin_seconds)
    return Archive(
        data_dir=data_dir, config=load_config(data_dir),
        catalog=catalog,
        store=build_store(settings, data_dir), index=index(data_dir),
        keyring=ring, anchor=anchor, ledger=ledger,
    )


def move_master(settings: Settings, old_key_file: Path | None = None) -> Path | None:
    """Move an old archive's master key out of its data directory: the keyring is
    re-sealed under a new master key from the configured provider, the old key
    file and anchor are deleted, and an audit event (anchored anew) records it.
    Returns the new key file (None for passphrase or pkcs11)."""
    data_dir = settings.require_data_dir()
    old_path = old_key_file or data_dir / LEGACY_MASTER_KEY_FILE
    old_master = read_key_file(old_path)
    path = data_dir / KEYRING_FILE
    archive_id = os.urandom(16).hex()
    provider = build_provider(settings, data_dir, archive_id, create=True)
    ring = keys.Keyring.upgrade(path, old_master, provider, archive_id=archive_id)
    ring.close()
    if old_path.is_relative_to(data_dir):
        old_path.unlink()
    (data_dir / LEGACY_ANCHOR_FILE).unlink(missing_ok=True)
    arc = open_archive(settings)
    try:
        arc.vault.record_event(actor="cli", role="admin", action="move_master",
                               detail={"provider": settings.key_provider.value})
    finally:
        arc.close()
    if isinstance(provider, FileKeyProvider):
        return provider.path
    return None


def move_keyring(settings: Settings) -> str:
    """Put an archive's keyring file into the catalog (``keyring_store=catalog``), so
    several nodes share it; the file is deleted once the catalog's copy opens. The
    sealed bytes are copied as they are: the same master key opens them. Returns the
    archive id. Run it with every node stopped."""
    from archive.keyring_store import CatalogKeyringStorage
    from keys.ringstore.file import FileKeyringStorage

    if settings.keyring_store is not KeyringStoreKind.CATALOG:
        raise ConfigError("set COMMARCHIVE_KEYRING_STORE=catalog (and a PostgreSQL "
                          "COMMARCHIVE_CATALOG_URL) to move the keyring into the catalog")
    data_dir = settings.require_data_dir()
    source = FileKeyringStorage(data_dir / KEYRING_FILE)
    catalog = build_catalog(settings, data_dir)
    try:
        catalog.create_schema()
        target = CatalogKeyringStorage(catalog)
        if target.stamp() is not None:
            raise ConfigError(f"the catalog already holds a keyring; {source.path} stays")
        raw, _ = source.load()
        target.save(raw)
        provider = build_provider(settings, data_dir, keys.archive_id_of(target))
        ring = keys.Keyring(target, provider)  # opens with this master key, or fails here
        archive_id = ring.archive_id
        ring.close()
        # keyring_store is a shared setting: this change is deliberate.
        check_shared_settings(settings.model_copy(update={"adopt_shared_settings": True}),
                              catalog)
    finally:
        catalog.dispose()
    source.path.unlink()
    return archive_id


def rotate_master(settings: Settings, arc: Archive, *, new_key_file: Path | None = None,
                  new_provider: KeyProviderKind | None = None,
                  new_pkcs11_key_label: str | None = None) -> tuple[int, str]:
    """A new master key from ``new_provider`` (default: the current kind) becomes the
    current one; returns its version and where it is."""
    from archive import keyadmin

    data_dir = settings.require_data_dir()
    archive_id = arc.keyring.archive_id
    version = max(m.version for m in arc.keyring.masters()) + 1
    kind = new_provider or settings.key_provider
    provider: KeyProvider
    if kind is KeyProviderKind.FILE:
        old = key_file_path(settings, archive_id)
        path = new_key_file or old.with_name(f"{archive_id}.v{version}.key")
        provider = FileKeyProvider.create(path, data_dir=data_dir)
        where = str(path)
    else:
        changes: dict[str, object] = {"key_provider": kind, "passphrase_source": "prompt"}
        if new_pkcs11_key_label:
            changes["pkcs11_key_label"] = new_pkcs11_key_label
        fresh = settings.model_copy(update=changes)
        provider = build_provider(fresh, data_dir, archive_id, create=True)
        where = provider.describe()
    try:
        keyadmin.rotate_master(arc.vault, provider, actor="cli")
    finally:
        provider.close()
    return version, where
