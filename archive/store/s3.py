"""S3 / MinIO object store (the ``minio`` client), with Object Lock legal holds.

The bucket is created with Object Lock (hence versioning) enabled, so a legal
hold set on an object version makes the store itself refuse its deletion.
Deleting removes every version of a key, not just the newest.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import Any, Final

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from archive.errors import BlobLocked, BlobNotFound, StoreUnavailable
from archive.store.naming import check_key

SPOOL_IN_MEMORY_BYTES: Final = 16 * 1024 * 1024
PART_SIZE_BYTES: Final = 16 * 1024 * 1024
TIMEOUT_S: Final = 10.0
_NOT_FOUND: Final = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchObject"})
#: Failures to reach S3 at all (S3Error, a MinioException, is handled first where it matters).
_TRANSPORT: Final = (MinioException, urllib3.exceptions.HTTPError, OSError)
_LOCKED: Final = frozenset({"AccessDenied", "ObjectLocked", "InvalidRequest"})


class _SpoolWriter:
    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def write(self, data: bytes, /) -> int:
        return int(self._fh.write(data))


class S3Store:
    name = "s3"

    def __init__(
        self,
        endpoint: str,
        *,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = True,
        region: str | None = None,
        object_lock: bool = True,
    ) -> None:
        self.bucket = bucket
        self.object_lock = object_lock
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=TIMEOUT_S, read=TIMEOUT_S),
            retries=urllib3.Retry(total=1, backoff_factor=0.2),
            maxsize=16,
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )

    def ensure_bucket(self) -> None:
        try:
            if not self._client.bucket_exists(self.bucket):
                self._client.make_bucket(self.bucket, object_lock=self.object_lock)
        except _TRANSPORT as exc:
            raise StoreUnavailable(self.bucket, reason=_reason(exc)) from exc

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[_SpoolWriter]:
        check_key(key)
        # Only sealed bytes are written here, so spilling the spool to disk is safe.
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as fh:
            yield _SpoolWriter(fh)
            length = fh.tell()
            fh.seek(0)
            try:
                self._client.put_object(
                    self.bucket, key, fh, length, part_size=PART_SIZE_BYTES  # type: ignore[arg-type]
                )
            except _TRANSPORT as exc:
                raise StoreUnavailable(key, reason=_reason(exc)) from exc

    def put(self, key: str, data: bytes) -> None:
        with self.writer(key) as w:
            w.write(data)

    def _get(self, key: str, offset: int = 0, length: int = 0) -> bytes:
        check_key(key)
        response = None
        try:
            with _failures(key):
                response = self._client.get_object(self.bucket, key, offset=offset,
                                                   length=length)
                return bytes(response.read())
        finally:
            if response is not None:
                response.close()
                response.release_conn()

    def get(self, key: str) -> bytes:
        return self._get(key)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        return self._get(key, start, length)

    def size(self, key: str) -> int:
        with _failures(key):
            return int(self._client.stat_object(self.bucket, check_key(key)).size or 0)

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except BlobNotFound:
            return False
        return True

    def _versions(self, key: str) -> list[str | None]:
        objs = self._client.list_objects(self.bucket, prefix=key, include_version=True)
        return [o.version_id for o in objs if o.object_name == key]

    def delete(self, key: str) -> None:
        check_key(key)
        try:
            for version in self._versions(key):
                self._client.remove_object(self.bucket, key, version_id=version)
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                return
            if exc.code in _LOCKED:
                raise BlobLocked(key) from exc
            raise StoreUnavailable(key, reason=_reason(exc)) from exc
        except _TRANSPORT as exc:
            raise StoreUnavailable(key, reason=_reason(exc)) from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        try:
            for obj in self._client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if obj.object_name:
                    yield obj.object_name
        except _TRANSPORT as exc:
            raise StoreUnavailable(prefix, reason=_reason(exc)) from exc

    def set_legal_hold(self, key: str, on: bool) -> bool:
        if not self.object_lock:
            return False
        check_key(key)
        try:
            versions = self._versions(key)
            if not versions:
                raise BlobNotFound(key)
            for version in versions:
                if on:
                    self._client.enable_object_legal_hold(self.bucket, key, version_id=version)
                else:
                    self._client.disable_object_legal_hold(self.bucket, key, version_id=version)
        except _TRANSPORT as exc:
            raise StoreUnavailable(key, reason=_reason(exc)) from exc
        return True

    def close(self) -> None:
        return None

    def check(self) -> None:
        try:
            self._client.bucket_exists(self.bucket)
        except _TRANSPORT as exc:
            raise StoreUnavailable(self.bucket, reason=_reason(exc)) from exc


@contextlib.contextmanager
def _failures(key: str) -> Iterator[None]:
    """S3 errors as the store's: a missing object is BlobNotFound, the rest StoreUnavailable."""
    try:
        yield
    except S3Error as exc:
        if exc.code in _NOT_FOUND:
            raise BlobNotFound(key) from None
        raise StoreUnavailable(key, reason=_reason(exc)) from exc
    except _TRANSPORT as exc:
        raise StoreUnavailable(key, reason=_reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"
