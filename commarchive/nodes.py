"""What must be the same on every node of one archive, checked at each start.

Several ``serve`` nodes and workers share one catalog, object store and index;
each reads its settings from its own environment and its own mounted
``archive.toml``. The settings below decide what an item is tagged with, how
long it is kept, where its bytes and keys are and how calls are transcribed,
so every node must have the same: the first node records their digests in the
catalog (``archive.cluster``) and a node that differs refuses to start, naming
the settings. ``COMMARCHIVE_ADOPT_SHARED_SETTINGS=true`` on one node makes its
settings the archive's (a deliberate change; then roll it out to the others).

Only a shared (PostgreSQL) catalog is checked: one node on the embedded SQLite
catalog has nobody to disagree with, and may change its settings freely.
"""

from __future__ import annotations

import socket
from typing import Final

from archive.catalog import Catalog
from archive.cluster import agree, digest
from archive.config import CONFIG_FILE_NAME
from archive.errors import ConfigError
from commarchive.settings import Settings

#: Settings every node must share (dotted paths into ``Settings``); the archive's
#: ``archive.toml`` (purposes, retention, rules) is compared as a whole besides.
SHARED_SETTINGS: Final = (
    "key_provider", "keyring_store", "store", "s3_bucket", "audit_anchor_s3_bucket",
    "audit_anchor_s3_retention_days", "index", "es_prefix", "drop_folder_rejected_days",
    "transcribe.probe_seconds", "transcribe.language_margin", "transcribe.low_confidence",
    "transcribe.verify_language",
)


def shared_digests(settings: Settings) -> dict[str, str]:
    """Digests of what every node must share: the settings above and ``archive.toml``."""
    digests = {}
    for path in SHARED_SETTINGS:
        value: object = settings
        for part in path.split("."):
            value = getattr(value, part)
        digests[path] = digest(value)
    config = settings.require_data_dir() / CONFIG_FILE_NAME
    digests[CONFIG_FILE_NAME] = digest(config.read_bytes())
    return digests


def check_shared_settings(settings: Settings, catalog: Catalog) -> None:
    """Refuse to start a node whose shared settings differ from the other nodes'."""
    if catalog.is_sqlite:
        return
    differ = agree(catalog, shared_digests(settings), node=socket.gethostname(),
                   adopt=settings.adopt_shared_settings)
    if differ:
        names = ", ".join(_env_name(n) for n in differ)
        raise ConfigError(
            f"this node's {names} {'does' if len(differ) == 1 else 'do'} not match what "
            "the other nodes of this archive use; "
            "make them the same on every node, or start one node with "
            "COMMARCHIVE_ADOPT_SHARED_SETTINGS=true to make this node's the archive's")


def _env_name(path: str) -> str:
    if path == CONFIG_FILE_NAME:
        return CONFIG_FILE_NAME
    return "COMMARCHIVE_" + path.replace(".", "_").upper()
