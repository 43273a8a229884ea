"""Composition root: the only place that picks backends and opens the archive."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

import keys
from archive.catalog import Catalog, sqlite_url
from archive.config import CONFIG_FILE_NAME, DEFAULT_CONFIG_TOML, load_config
from archive.errors import ConfigError
from archive.index import SearchIndex
from archive.service import Archive
from archive.store import ObjectStore
from commarchive.settings import IndexBackend, Settings, StoreBackend

KEYRING_FILE: Final = "keyring.sealed"
MASTER_KEY_FILE: Final = "master.key"
CATALOG_FILE: Final = "catalog.sqlite"
INDEX_FILE: Final = "index.sqlite"
BLOBS_DIR: Final = "blobs"


def _master_key(settings: Settings, data_dir: Path) -> bytes:
    env = settings.master_key.get_secret_value() if settings.master_key else None
    return keys.load_master_key(env, settings.master_key_file or data_dir / MASTER_KEY_FILE)


def build_store(settings: Settings, data_dir: Path) -> ObjectStore:
    if settings.store is StoreBackend.S3:
        from archive.store.s3 import S3Store

        assert settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key
        endpoint = settings.s3_endpoint.removeprefix("http://").removeprefix("https://")
        s3 = S3Store(
            endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            bucket=settings.s3_bucket,
            secure=settings.s3_secure and not settings.s3_endpoint.startswith("http://"),
            region=settings.s3_region,
        )
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


def is_archive(data_dir: Path) -> bool:
    return (data_dir / KEYRING_FILE).exists() or (data_dir / CONFIG_FILE_NAME).exists()


def init_archive(settings: Settings) -> Archive:
    """Create a new archive in ``settings.data_dir``; refuses to touch an existing one."""
    data_dir = settings.require_data_dir()
    if is_archive(data_dir):
        raise FileExistsError(f"{data_dir} already holds an archive; refusing to overwrite it")
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    (data_dir / CONFIG_FILE_NAME).write_text(DEFAULT_CONFIG_TOML)
    if settings.master_key is None and settings.master_key_file is None:
        keys.new_master_key(data_dir / MASTER_KEY_FILE)
    ring = keys.Keyring.create(data_dir / KEYRING_FILE, _master_key(settings, data_dir))
    config = load_config(data_dir)
    for purpose in config.purposes:
        ring.ensure_purpose(purpose.name)
    return open_archive(settings)


def open_archive(settings: Settings) -> Archive:
    archive = _open(settings, lambda data_dir: build_index(settings, data_dir))
    archive.catalog.create_schema()
    archive.index.ensure()
    return archive


def open_preparer(settings: Settings) -> Archive:
    """An Archive for ``prepare`` only (seal and store), for ingest worker processes.

    Same configuration, keyring and object store as ``open_archive``; it never
    writes the catalog or the index (the serving process commits and indexes),
    so it sets neither up and its index is an unused in-memory one.
    """
    from archive.index.memory import MemoryIndex

    return _open(settings, lambda _: MemoryIndex())


def _open(settings: Settings, index: Callable[[Path], SearchIndex]) -> Archive:
    data_dir = settings.require_data_dir()
    if not is_archive(data_dir):
        raise ConfigError(f"{data_dir} is not an archive; run `commarchive init {data_dir}`")
    return Archive(
        data_dir=data_dir, config=load_config(data_dir),
        catalog=Catalog(settings.catalog_url or sqlite_url(data_dir / CATALOG_FILE)),
        store=build_store(settings, data_dir), index=index(data_dir),
        keyring=keys.Keyring(data_dir / KEYRING_FILE, _master_key(settings, data_dir)),
    )
