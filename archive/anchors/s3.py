"""The audit anchor in an S3 Object Lock bucket, in compliance mode.

Each record is its own object, named by the time it was written and the event's
sequence number, and put
with a compliance-mode retention: until it expires nobody, the bucket owner and
root included, can delete or overwrite that version. ``latest`` reads the
highest-numbered object, so a later PUT of an older record
under the same name changes nothing (the version whose record carries the
object's number counts), and a name with no such version reads as altered.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Final

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import MinioException
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention

TIMEOUT_S: Final = 10.0
SEQ_DIGITS: Final = 20
DEFAULT_RETENTION_DAYS: Final = 3650
#: What a call to S3 raises when the service cannot be reached or refuses.
TRANSPORT_ERRORS: Final = (MinioException, urllib3.exceptions.HTTPError)


def object_lock_client(endpoint: str, *, access_key: str, secret_key: str, secure: bool,
                       region: str | None) -> Minio:
    """A client for the Object Lock bucket (the anchor's, which the erasure ledger shares):
    short timeouts and one retry, so a node without S3 fails fast and says so."""
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=TIMEOUT_S, read=TIMEOUT_S),
                               retries=urllib3.Retry(total=1, backoff_factor=0.2))
    return Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure,
                 region=region, http_client=http)


def ensure_object_lock_bucket(client: Minio, bucket: str, retention_days: int) -> None:
    """Create ``bucket`` with Object Lock in compliance mode when missing (it can only be
    turned on when a bucket is made); raises ``TRANSPORT_ERRORS``."""
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket, object_lock=True)
        client.set_object_lock_config(bucket, ObjectLockConfig(COMPLIANCE, retention_days, DAYS))


class S3Anchor:
    def __init__(self, endpoint: str, *, access_key: str, secret_key: str, bucket: str,
                 prefix: str, secure: bool = True, region: str | None = None,
                 retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.retention_days = retention_days
        self._client = object_lock_client(endpoint, access_key=access_key,
                                          secret_key=secret_key, secure=secure, region=region)

    def describe(self) -> str:
        return f"the S3 Object Lock audit anchor s3://{self.bucket}/{self.prefix}/"

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock when missing (OSError if S3 is unreachable)."""
        try:
            ensure_object_lock_bucket(self._client, self.bucket, self.retention_days)
        except TRANSPORT_ERRORS as exc:
            raise OSError(f"{self.describe()}: {exc}") from exc

    def _name(self, seq: int) -> str:
        # Ordered by when it was written, not by seq: after a restore the chain goes
        # on from an older position, and the newest record must still sort last.
        return f"{self.prefix}/{time.time_ns():0{SEQ_DIGITS}d}-{seq:0{SEQ_DIGITS}d}"

    def append(self, seq: int, record: bytes) -> None:
        until = datetime.now(UTC) + timedelta(days=self.retention_days)
        try:
            # S3 requires a checksum on uploads into an Object Lock retention.
            checksum = base64.b64encode(hashlib.sha256(record).digest()).decode()
            self._client.put_object(
                self.bucket, self._name(seq), io.BytesIO(record), len(record),
                retention=Retention(COMPLIANCE, until),
                metadata={"x-amz-sdk-checksum-algorithm": "SHA256",
                          "x-amz-checksum-sha256": checksum})
        except TRANSPORT_ERRORS as exc:
            raise OSError(f"{self.describe()}: {exc}") from exc

    def latest(self) -> bytes | None:
        try:
            names = [o.object_name for o in self._client.list_objects(
                self.bucket, prefix=self.prefix + "/") if o.object_name]
            if not names:
                return None
            newest = max(names)
            versions = [o.version_id for o in self._client.list_objects(
                self.bucket, prefix=newest, include_version=True) if o.object_name == newest]
            records = [self._read(newest, v) for v in versions]
        except TRANSPORT_ERRORS as exc:
            raise OSError(f"{self.describe()}: {exc}") from exc
        named = int(newest.rsplit("-", 1)[1])
        for record in records:
            if _seq_of(record) == named:
                return record
        return b"{}"  # no version says what its name says: the MAC check reports it

    def _read(self, name: str, version_id: str | None) -> bytes:
        response = self._client.get_object(self.bucket, name, version_id=version_id)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def close(self) -> None:
        return None


def _seq_of(record: bytes) -> int | None:
    try:
        return int(json.loads(json.loads(record)["body"])["seq"])
    except (ValueError, KeyError, TypeError):
        return None
