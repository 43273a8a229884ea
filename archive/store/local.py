"""Local-directory object store: write to a temp file, fsync, rename, fsync the directory."""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from archive.errors import BlobNotFound, StoreUnavailable
from archive.store.naming import check_key


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
        self._dir_fds: dict[Path, int] = {}
        self._dir_lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[_FileWriter]:
        """Write, fsync the file, fsync its directory; nothing is left after an exception.

        A new key is written in place (O_EXCL): until its catalog row exists nobody
        looks for it, and a crash leaves at most an orphan of sealed bytes. An
        existing key is replaced atomically through a temporary file and a rename.
        """
        path = self._path(key)
        try:
            self._make_dirs(path.parent)
            try:
                target, fh = path, path.open("xb")
            except FileExistsError:
                target = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
                fh = target.open("xb")
        except OSError as exc:
            raise StoreUnavailable(key, reason=exc.strerror or type(exc).__name__) from exc
        try:
            with fh:
                yield _FileWriter(fh)
                fh.flush()
                os.fsync(fh.fileno())
            if target != path:
                target.replace(path)
            self._fsync_dir(path.parent)
        except OSError as exc:
            target.unlink(missing_ok=True)
            raise StoreUnavailable(key, reason=exc.strerror or type(exc).__name__) from exc
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    def _fsync_dir(self, directory: Path) -> None:
        """fsync a directory through a cached descriptor (shard directories are few)."""
        with self._dir_lock:
            fd = self._dir_fds.get(directory)
            if fd is None:
                fd = os.open(directory, os.O_RDONLY)
                self._dir_fds[directory] = fd
        os.fsync(fd)

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

    def close(self) -> None:
        with self._dir_lock:
            for fd in self._dir_fds.values():
                os.close(fd)
            self._dir_fds.clear()

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StoreUnavailable(str(self.root), reason="not writable")
