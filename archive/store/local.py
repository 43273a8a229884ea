"""Local-directory object store: write to a temp file, fsync, rename, fsync the directory."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from archive.store import BlobNotFound, StoreUnavailable
from archive.store._keys import check_key


class _FileWriter:
    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh

    def write(self, data: bytes, /) -> int:
        return self._fh.write(data)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[_FileWriter]:
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            self._make_dirs(path.parent)
            fh = tmp.open("xb")
        except OSError as exc:
            raise StoreUnavailable(key, reason=exc.strerror or type(exc).__name__) from exc
        try:
            with fh:
                yield _FileWriter(fh)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(path)
            _fsync_dir(path.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreUnavailable(key, reason=exc.strerror or type(exc).__name__) from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _make_dirs(self, directory: Path) -> None:
        """Create missing directories durably (each new entry fsync'd in its parent)."""
        if directory.is_dir():
            return
        self._make_dirs(directory.parent)
        try:
            directory.mkdir()
        except FileExistsError:
            return
        _fsync_dir(directory.parent)

    def put(self, key: str, data: bytes) -> None:
        with self.writer(key) as w:
            w.write(data)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise StoreUnavailable(key, reason=exc.strerror or type(exc).__name__) from exc

    def get_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with self._path(key).open("rb") as fh:
                fh.seek(start)
                return fh.read(length)
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(path.parent)

    def keys(self, prefix: str = "") -> Iterator[str]:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def set_legal_hold(self, key: str, on: bool) -> bool:
        return False

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StoreUnavailable(str(self.root), reason="not writable")
