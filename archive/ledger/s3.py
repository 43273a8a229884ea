"""The erasure ledger in the audit anchor's S3 Object Lock bucket (stateless nodes).

One object per entry, ``<prefix>/<number, zero-padded>``, holding the same
chained, MAC'd line as the file ledger, put with a compliance-mode retention:
until it expires nobody, root included, can delete or overwrite that version.
Not in the catalog on purpose: a catalog restored from an older dump must not
bring back an older ledger with it.

Appends are serialised across every node by the catalog's ``ledger`` lock
(and, on PostgreSQL, by the writers' lock of the erasure's transaction), and
each object is created with ``If-None-Match: *`` after checking that its name
is free, so two nodes never both write entry N: a node whose idea of the head
is stale (a restored catalog) finds the name taken, lists the bucket once and
goes on after the real head. Reading verifies every version of every entry: a
second version with other bytes (an overwrite), a delete marker or a missing
number is refused, naming the entry.

``head()`` is asked on every audited write, so it does not list the bucket:
the catalog's bookmark (``archive.ledger.tables``) names the newest entry the
catalog applied, moved in the erasure's own transaction on whichever node ran
it; when it moved since this node last looked, the entry it names is read from
S3 once and must verify with that MAC. A node therefore names another node's
erasure in its next anchor record without listing anything.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.time import to_iso8601utc

from archive.anchors.s3 import (
    DEFAULT_RETENTION_DAYS,
    TRANSPORT_ERRORS,
    ensure_object_lock_bucket,
    object_lock_client,
)
from archive.catalog import Catalog
from archive.errors import TemporaryFailure
from archive.ledger import tables
from archive.ledger.chain import ChainedLedger, LedgerEntry, LedgerError

NUMBER_DIGITS: Final = 20
#: Names found taken (another writer got there first) before an append gives up.
APPEND_ATTEMPTS: Final = 5
LOCK_NAME: Final = "ledger"
_NAME: Final = re.compile(rf"\d{{{NUMBER_DIGITS}}}")


class S3Ledger(ChainedLedger):
    unit = "entry"

    def __init__(self, endpoint: str, *, access_key: str, secret_key: str, bucket: str,
                 prefix: str, key: bytes, catalog: Catalog, secure: bool = True,
                 region: str | None = None,
                 retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        super().__init__(key)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.retention_days = retention_days
        self._catalog = catalog
        self._client = object_lock_client(endpoint, access_key=access_key,
                                          secret_key=secret_key, secure=secure, region=region)
        #: (the bookmark last seen, the head it was checked to be) for ``head``.
        self._seen: tuple[tuple[int, str] | None, tuple[int, str] | None] | None = None
        #: The newest entry this process wrote (its transaction may not have committed).
        self._written: tuple[int, str] | None = None

    def describe(self) -> str:
        return f"the S3 erasure ledger s3://{self.bucket}/{self.prefix}/"

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock when missing (the anchor's bucket)."""
        try:
            ensure_object_lock_bucket(self._client, self.bucket, self.retention_days)
        except TRANSPORT_ERRORS as exc:
            raise TemporaryFailure(self.describe(), reason=str(exc)) from exc

    def _name(self, number: int) -> str:
        return f"{self.prefix}/{number:0{NUMBER_DIGITS}d}"

    # -- appending ---------------------------------------------------------------------

    def _append(self, entry: LedgerEntry) -> tuple[int, str]:
        with self._catalog.exclusive(LOCK_NAME):
            head = self.head()
            for _ in range(APPEND_ATTEMPTS):
                line, number, mac = self.line(entry, head)
                if self._create(number, line):
                    self._written = (number, mac)
                    return number, mac
                head = self.head(fresh=True)  # written by a node we did not hear of
        raise LedgerError(f"{self.describe()}: entry {number} was taken {APPEND_ATTEMPTS} "
                          "times by another writer; the erasure was not recorded")

    def _create(self, number: int, line: bytes) -> bool:
        """Put entry ``number`` unless its name is taken (False then)."""
        name = self._name(number)
        until = datetime.now(UTC) + timedelta(days=self.retention_days)
        headers: dict[str, str | list[str] | tuple[str]] = {
            "Content-Type": "application/json",
            # Refused by the server when the name exists: the lock's second line.
            "If-None-Match": "*",
            "x-amz-object-lock-mode": COMPLIANCE,
            "x-amz-object-lock-retain-until-date": to_iso8601utc(until) or "",
            # S3 requires a checksum on uploads into an Object Lock retention.
            "x-amz-sdk-checksum-algorithm": "SHA256",
            "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(line).digest()).decode(),
        }
        try:
            if self._versions(name):
                return False
            # The public put_object turns unknown headers into user metadata; the
            # conditional header must reach the server as it is.
            self._client._put_object(self.bucket, name, line, headers)
        except S3Error as exc:
            if exc.code == "PreconditionFailed":
                return False
            raise TemporaryFailure(self.describe(), reason=str(exc)) from exc
        except TRANSPORT_ERRORS as exc:
            raise TemporaryFailure(self.describe(), reason=str(exc)) from exc
        return True

    def adopt(self, lines: Sequence[bytes]) -> int:
        """Take another ledger's (verified) lines as entries 1..n, as they are, so the
        chain and the heads the audit anchor names stay valid; entries already here
        with the same bytes are kept (a re-run). Returns how many were written."""
        written = 0
        with self._catalog.exclusive(LOCK_NAME):
            listed = self._listed()
            for number, line in enumerate(lines, start=1):
                if number in listed:
                    if self._content(number, listed[number]) != line:
                        raise LedgerError(f"{self.describe()} already holds another entry "
                                          f"{number}; nothing more was copied")
                    continue
                if not self._create(number, line):
                    raise LedgerError(f"{self.describe()} entry {number} was written by "
                                      "another node meanwhile; stop every node and retry")
                written += 1
            if max(listed, default=0) > len(lines):
                raise LedgerError(f"{self.describe()} holds more entries than the file")
        self._seen = None
        return written

    # -- the head ----------------------------------------------------------------------

    def head(self, *, fresh: bool = False) -> tuple[int, str] | None:
        if fresh:
            listed = self._listed()
            if not listed:
                return None
            number = max(listed)
            return self._verified(number, listed[number])
        with self._catalog.read() as conn:
            bookmark = tables.applied(conn)
        if self._seen is None or self._seen[0] != bookmark:
            self._seen = (bookmark, self._checked(bookmark))
        # What this process wrote since may be newer (its transaction not committed yet).
        seen, written = self._seen[1], self._written
        return written if written and (seen is None or written[0] > seen[0]) else seen

    def _checked(self, bookmark: tuple[int, str] | None) -> tuple[int, str] | None:
        """The head the bookmark names, checked against S3 (listed when there is none)."""
        found: tuple[int, str] | None
        if bookmark is None:  # no erasure through this catalog yet: S3 says
            found = self.head(fresh=True)
        else:
            found = self._verified(bookmark[0], self._listed(self._name(bookmark[0])).get(
                bookmark[0], []))
            if found != bookmark:
                raise LedgerError(f"{self.describe()} entry {bookmark[0]} is not the one the "
                                  "catalog recorded (the ledger was rewritten)")
        return found

    def _verified(self, number: int, versions: list[dict[str, Any]]) -> tuple[int, str]:
        parsed = self.parse(self._content(number, versions), number)
        if parsed is None or parsed.number != number:
            raise LedgerError(f"{self.describe()} entry {number} is damaged or forged")
        return parsed.number, parsed.mac

    # -- reading -----------------------------------------------------------------------

    def _stored(self) -> Iterable[bytes]:
        listed = self._listed()
        for number in range(1, max(listed, default=0) + 1):
            yield self._content(number, listed.get(number, []))

    def _listed(self, prefix: str | None = None) -> dict[int, list[dict[str, Any]]]:
        """Every version and delete marker under the prefix, by entry number."""
        out: dict[int, list[dict[str, Any]]] = {}
        try:
            for obj in self._client.list_objects(self.bucket, prefix=prefix or self.prefix + "/",
                                                 recursive=True, include_version=True):
                tail = str(obj.object_name).rsplit("/", 1)[-1]
                if _NAME.fullmatch(tail):
                    out.setdefault(int(tail), []).append(
                        {"version_id": obj.version_id, "deleted": obj.is_delete_marker})
        except TRANSPORT_ERRORS as exc:
            raise TemporaryFailure(self.describe(), reason=str(exc)) from exc
        return out

    def _versions(self, name: str) -> list[dict[str, Any]]:
        number = int(name.rsplit("/", 1)[-1])
        return self._listed(name).get(number, [])

    def _content(self, number: int, versions: list[dict[str, Any]]) -> bytes:
        """The one content of entry ``number``: refused when missing, deleted or
        overwritten with other bytes."""
        where = f"{self.describe()} entry {number}"
        if not versions:
            raise LedgerError(f"{where} is missing (entries were removed)")
        if any(v["deleted"] for v in versions):
            raise LedgerError(f"{where} was deleted (a delete marker hides it)")
        try:
            contents = {self._read(self._name(number), v["version_id"]) for v in versions}
        except TRANSPORT_ERRORS as exc:
            raise TemporaryFailure(self.describe(), reason=str(exc)) from exc
        if len(contents) > 1:
            raise LedgerError(f"{where} was overwritten ({len(contents)} different versions)")
        return contents.pop()

    def _read(self, name: str, version_id: str | None) -> bytes:
        response = self._client.get_object(self.bucket, name, version_id=version_id)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()
