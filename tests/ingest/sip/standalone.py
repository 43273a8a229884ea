"""Run the SIPREC server in its own process over an existing archive (the crash test kills it).

Usage: python -m tests.ingest.sip.standalone DATA_DIR   (master key hex in COMMARCHIVE_TEST_KEY)
Prints ``READY <udp port>`` once listening.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import keys
from archive.catalog import Catalog, sqlite_url
from archive.index.sqlite import SqliteIndex
from archive.service import Archive
from archive.store.local import LocalStore
from ingest.sip.config import SipConfig
from ingest.sip.server import start_sip_server
from tests.conftest import TEST_CONFIG


def open_test_archive(data_dir: Path, master: bytes) -> Archive:
    ring = keys.Keyring(data_dir / "keyring.sealed", master)
    catalog = Catalog(sqlite_url(data_dir / "catalog.sqlite"))
    index = SqliteIndex(data_dir / "index.sqlite")
    return Archive(
        data_dir=data_dir,
        config=TEST_CONFIG,
        catalog=catalog,
        store=LocalStore(data_dir / "blobs"),
        index=index,
        keyring=ring,
    )


async def main(data_dir: Path) -> None:
    archive = open_test_archive(data_dir, bytes.fromhex(os.environ["COMMARCHIVE_TEST_KEY"]))
    handle = await start_sip_server(
        archive, SipConfig(port=0, rtp_port_range=(28000, 29000), rtp_inactivity_timeout_s=60)
    )
    print(f"READY {handle.udp_port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
