"""Shared fixtures: fresh archives over every backend, users per role."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest

import keys
from archive.anchors.file import FileAnchor
from archive.catalog import Catalog, sqlite_url
from archive.config import ArchiveConfig, Role, TaggingRule
from archive.index import SearchIndex
from archive.index.memory import MemoryIndex
from archive.index.sqlite import SqliteIndex
from archive.ledger.file import FileLedger
from archive.model import AddressKind, Channel, Direction, NewItem, Party, PartyRole, Section, Side
from archive.service import Archive
from archive.store import ObjectStore
from archive.store.local import LocalStore
from archive.store.memory import MemoryStore
from tests.services import in_ci

pytest_plugins = ["tests.subjects"]

#: The one answer to "am I in CI" (``CI`` set to 1, true or yes, any case): there a
#: missing tool or service fails the test instead of skipping it.
IN_CI: Final = in_ci()

#: Every item is also tagged ``legal`` here, so every reader role has items to read;
#: the shipped default policy (``archive.config.DEFAULT_RULES``) tags support
#: contact for quality and training only (tests/archive/test_config.py).
TEST_CONFIG = ArchiveConfig(
    internal_domains=("example.com",),
    internal_numbers=("+3120555",),
    internal_sip_domains=("pbx.example.com",),
    rules=(TaggingRule(purposes=("quality", "training", "legal")),),
)


def make_archive(
    data_dir: Path,
    *,
    store: ObjectStore | None = None,
    index: SearchIndex | None = None,
    config: ArchiveConfig = TEST_CONFIG,
    catalog_url: str | None = None,
) -> Archive:
    """A fresh archive in ``data_dir`` (local store, SQLite catalog and index unless given).

    With ``COMMARCHIVE_TEST_CATALOG=postgresql`` every archive the tests make has
    its catalog in a new database on the test PostgreSQL server instead.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    master = keys.new_dek()
    ring = keys.Keyring.create(data_dir / "keyring.sealed", master)
    for purpose in config.purposes:
        ring.ensure_purpose(purpose.name)
    if catalog_url is None and os.environ.get("COMMARCHIVE_TEST_CATALOG") == "postgresql":
        from tests.services import postgres_database

        catalog_url = postgres_database()
    catalog = Catalog(catalog_url or sqlite_url(data_dir / "catalog.sqlite"))
    catalog.create_schema()
    index = index if index is not None else SqliteIndex(data_dir / "index.sqlite")
    index.ensure()
    return Archive(
        data_dir=data_dir, config=config, catalog=catalog,
        store=store if store is not None else LocalStore(data_dir / "blobs"),
        index=index, keyring=ring,
        # Outside the data directory, as the composition root places them.
        anchor=FileAnchor(data_dir.parent / f"{data_dir.name}.anchor"),
        ledger=FileLedger(data_dir.parent / f"{data_dir.name}.erasures", ring.secret("audit")),
    )


@pytest.fixture(autouse=True)
def _private_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Key files, anchors and ledgers that ``init`` puts in the per-user config
    directory go to this test's temporary directory (subprocesses inherit it)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    arc = make_archive(tmp_path / "data")
    yield arc
    arc.close()


@pytest.fixture
def memory_archive(tmp_path: Path) -> Iterator[Archive]:
    arc = make_archive(tmp_path / "data", store=MemoryStore(), index=MemoryIndex())
    yield arc
    arc.close()


@pytest.fixture
def tokens(archive: Archive) -> dict[str, str]:
    """A bearer token per role, on the ``archive`` fixture."""
    return {role.value: archive.users.add(f"{role.value}-user", role) for role in Role}


def email_item(
    *,
    subject: str = "Invoice question",
    body: str = "Hello, my invoice is wrong.",
    customer: str = "jan@customer.nl",
    agent: str = "support@example.com",
    started_at: datetime | None = None,
    message_id: str | None = None,
) -> NewItem:
    """A minimal e-mail item, as the SMTP ingester would build it."""
    message_id = message_id or f"<{uuid.uuid4().hex}@customer.nl>"
    raw = (
        f"From: Jan <{customer}>\r\nTo: {agent}\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n\r\n{body}\r\n"
    ).encode()
    return NewItem(
        channel=Channel.EMAIL, original=raw, content_type="message/rfc822", source="test",
        started_at=started_at or datetime.now(UTC), direction=Direction.INBOUND,
        parties=[
            Party(PartyRole.FROM, customer, AddressKind.EMAIL, "Jan", Side.CUSTOMER),
            Party(PartyRole.TO, agent, AddressKind.EMAIL, None, Side.AGENT),
        ],
        details={"subject": subject, "message_id": message_id},
        sections=[Section("subject", subject), Section("body", body)],
        dedupe_key=f"msgid:{message_id}",
    )


@pytest.fixture
def new_email() -> Callable[..., NewItem]:
    return email_item


# -- seams: one contract suite per seam, parametrised over every implementation ------


@pytest.fixture(params=["memory", "local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "memory":
        return MemoryStore()
    if request.param == "local":
        return LocalStore(tmp_path / "blobs")
    return make_s3_store()


def make_s3_store(*, bucket: str | None = None, object_lock: bool = True) -> ObjectStore:
    from archive.store.s3 import S3Store
    from tests.services import s3_endpoint

    ep = s3_endpoint()
    s3 = S3Store(
        ep["endpoint"], access_key=ep["access_key"], secret_key=ep["secret_key"],
        bucket=bucket or f"t-{uuid.uuid4().hex[:12]}", secure=ep["secure"],
        region=ep["region"], object_lock=object_lock,
    )
    s3.ensure_bucket()
    return s3


@pytest.fixture(params=["memory", "sqlite", "elasticsearch"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchIndex]:
    idx: SearchIndex
    if request.param == "memory":
        idx = MemoryIndex()
    elif request.param == "sqlite":
        idx = SqliteIndex(tmp_path / "index.sqlite")
    else:
        from archive.index.elastic import ElasticIndex
        from tests.services import elasticsearch_url

        idx = ElasticIndex(elasticsearch_url(), prefix=f"t{uuid.uuid4().hex[:10]}")
    idx.ensure()
    yield idx
    if request.param == "elasticsearch":
        from archive.index.elastic import ElasticIndex

        assert isinstance(idx, ElasticIndex)
        idx.drop()
    idx.close()


def index_doc(
    item_id: str,
    *,
    text: str = "",
    title: str = "",
    channel: str = "email",
    purposes: tuple[str, ...] = ("quality", "legal"),
    parties: tuple[str, ...] = (),
    subjects: tuple[str, ...] = (),
    restricted: bool = False,
    started_at: datetime | None = None,
    transcript: tuple[tuple[str, float, str], ...] = (),
    direction: str = "inbound",
) -> object:
    from archive.index import IndexDoc

    sections = [Section("body", text)] if text else []
    sections += [Section("transcript", t, speaker=s, start_s=at) for s, at, t in transcript]
    if title:
        sections.insert(0, Section("subject", title))
    return IndexDoc(
        item_id=item_id, channel=channel, direction=direction,
        started_at=started_at or datetime(2026, 1, 1, tzinfo=UTC),
        parties=parties, subjects=subjects, purposes=purposes, restricted=restricted,
        held=False, sections=tuple(sections), title=title,
    )
