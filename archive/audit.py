"""Hash-chained, keyed audit log in the catalog.

Each event's hash is an HMAC over the previous hash and the event itself,
sequence number included, so editing, removing or reordering events breaks the
chain at a reportable position. The MAC key is the archive's own audit secret,
sealed in the keyring: whoever holds only the data directory cannot recompute
it. After every audited write the newest event is appended to an anchor
outside the catalog's directory (``archive.anchors``); ``verify`` fails when
the chain is shorter than the anchor (events cut off the end), longer than it
(the anchor rolled back to an older one, or lost) or disagrees with it.
Each anchor record also names the erasure ledger's newest line
(``archive.ledger``), so ``verify`` (and a restore) notices erasures cut off
the ledger's end, which its own chain cannot show.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive.anchors import AuditAnchor
from archive.catalog import Catalog, audit_events
from archive.errors import ArchiveError

log = logging.getLogger(__name__)

GENESIS_HASH: Final = "0" * 64
SYSTEM_ACTOR: Final = "system"


class LedgerHead(Protocol):
    """What the audit log needs of the erasure ledger (``archive.ledger``)."""

    def head(self) -> tuple[int, str] | None:
        """The newest line's number and MAC; None when empty."""
        ...

    def holds(self, number: int, mac: str) -> str | None:
        """None when line ``number`` has ``mac`` and every line verifies; else the problem."""
        ...


@dataclass(frozen=True, slots=True)
class AuditEvent:
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    purpose: str | None
    item_ids: tuple[str, ...]
    subject: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def public(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "purpose": self.purpose,
            "item_ids": list(self.item_ids),
            "subject": self.subject,
            "detail": self.detail,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    events: int
    #: Sequence position of the first bad event (or where events are missing).
    position: int | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)


def _canonical(
    seq: int,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    purpose: str | None,
    item_ids: Sequence[str],
    subject: str | None,
    detail: dict[str, Any],
) -> bytes:
    return json.dumps(
        [seq, at.astimezone(UTC).isoformat(), actor, role, action, purpose,
         list(item_ids), subject, detail],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


class AuditLog:
    def __init__(self, catalog: Catalog, key: bytes, anchor: AuditAnchor,
                 ledger: LedgerHead | None = None) -> None:
        self._catalog = catalog
        self._key = key
        self._anchor = anchor
        self._ledger = ledger
        self._anchored_ledger: tuple[int, str] | None = None

    def _mac(self, prev_hash: str, body: bytes) -> str:
        return hmac.new(self._key, prev_hash.encode() + b"\n" + body, hashlib.sha256).hexdigest()

    def append(
        self,
        conn: Connection,
        *,
        actor: str,
        role: str,
        action: str,
        purpose: str | None = None,
        item_ids: Sequence[str] = (),
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Append inside the caller's write transaction (so state and audit agree)."""
        return self.append_many(conn, [{
            "actor": actor, "role": role, "action": action, "purpose": purpose,
            "item_ids": item_ids, "subject": subject, "detail": detail}])[0]

    def append_many(
        self, conn: Connection, events: Sequence[dict[str, Any]]
    ) -> list[AuditEvent]:
        """Append several events (``append``'s keyword arguments each), chained in order."""
        last = conn.execute(
            sa.select(audit_events.c.seq, audit_events.c.hash)
            .order_by(audit_events.c.seq.desc())
            .limit(1)
        ).first()
        seq, prev = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
        at = datetime.now(UTC)
        out: list[AuditEvent] = []
        rows: list[dict[str, Any]] = []
        for fields in events:
            seq += 1
            actor, role, action = str(fields["actor"]), str(fields["role"]), str(fields["action"])
            purpose, subject = fields.get("purpose"), fields.get("subject")
            detail = dict(fields.get("detail") or {})
            item_ids = tuple(fields.get("item_ids") or ())
            digest = self._mac(
                prev, _canonical(seq, at, actor, role, action, purpose, item_ids, subject, detail)
            )
            rows.append({
                "seq": seq, "at": at, "actor": actor, "role": role, "action": action,
                "purpose": purpose, "item_ids": json.dumps(list(item_ids)), "subject": subject,
                "detail": json.dumps(detail, sort_keys=True, ensure_ascii=False),
                "prev_hash": prev, "hash": digest,
            })
            out.append(AuditEvent(seq, at, actor, role, action, purpose, item_ids, subject,
                                  detail, prev, digest))
            prev = digest
        if rows:
            conn.execute(audit_events.insert(), rows)
        return out

    def record(self, **fields: Any) -> AuditEvent:
        """Append in a transaction of its own."""
        with self._catalog.write() as conn:
            event = self.append(conn, **fields)
        self.anchor(event)
        return event

    def anchor(self, event: AuditEvent) -> None:
        """Append the newest event to the anchor, after its commit. A failure is logged
        loudly: the next ``verify`` reports the unanchored events."""
        fields: dict[str, Any] = {"seq": event.seq, "hash": event.hash}
        try:
            if self._ledger is not None and (head := self._ledger.head()) is not None:
                fields["ledger"] = list(head)
            body = json.dumps(fields, sort_keys=True)
            record = json.dumps({"body": body, "mac": self._mac("anchor", body.encode())})
            self._anchor.append(event.seq, record.encode())
        except (OSError, ArchiveError) as exc:
            log.error("could not anchor audit event %d in %s: %s", event.seq,
                      self._anchor.describe(), exc)

    def close(self) -> None:
        self._anchor.close()

    def check_ledger(self) -> str | None:
        """None when the erasure ledger verifies and reaches the line the newest anchor
        names; else the problem (a restore refuses to replay a ledger cut short)."""
        if self._ledger is None:
            return None
        anchor = self._read_anchor()
        named = self._anchored_ledger
        if anchor is None or anchor[0] < 0 or named is None:
            try:
                head = self._ledger.head()
            except ArchiveError as exc:
                return str(exc)
            return None if head is None else self._ledger.holds(*head)
        return self._ledger.holds(*named)

    def _read_anchor(self) -> tuple[int, str] | None:
        """The newest anchor record: None when there is none, (-1, "") when it fails
        its MAC, (-2, "") when it cannot be read, (0, "") when it holds no record.
        The ledger head it names is left in ``_anchored_ledger``."""
        self._anchored_ledger = None
        try:
            raw = self._anchor.latest()
        except OSError:
            return (-2, "")
        if raw is None:
            return None
        if not raw.strip():
            return (0, "")
        try:
            payload = json.loads(raw)
            body = str(payload["body"])
            mac = str(payload["mac"])
            data = json.loads(body)
            seq, digest = int(data["seq"]), str(data["hash"])
            ledger = data.get("ledger")
            named = (int(ledger[0]), str(ledger[1])) if ledger is not None else None
        except (ValueError, KeyError, TypeError, IndexError):
            return (-1, "")
        if not hmac.compare_digest(self._mac("anchor", body.encode()), mac):
            return (-1, "")
        self._anchored_ledger = named
        return (seq, digest)

    def _rows(self, where: Any = None) -> Iterator[sa.Row[Any]]:
        stmt = sa.select(audit_events).order_by(audit_events.c.seq)
        if where is not None:
            stmt = stmt.where(where)
        with self._catalog.read() as conn:
            yield from conn.execute(stmt)

    @staticmethod
    def _event(row: sa.Row[Any]) -> AuditEvent:
        return AuditEvent(
            int(row.seq), row.at, row.actor, row.role, row.action, row.purpose,
            tuple(json.loads(row.item_ids)), row.subject, json.loads(row.detail),
            row.prev_hash, row.hash,
        )

    def verify(self) -> VerifyReport:
        expected_seq = 1
        prev = GENESIS_HASH
        count = 0
        for row in self._rows():
            event = self._event(row)
            if event.seq != expected_seq:
                return VerifyReport(False, count, expected_seq,
                                    f"event {expected_seq} is missing (next is {event.seq})")
            if event.prev_hash != prev:
                return VerifyReport(False, count, event.seq,
                                    f"event {event.seq} does not follow event {event.seq - 1} "
                                    "(removed or reordered)")
            body = _canonical(event.seq, event.at, event.actor, event.role, event.action,
                              event.purpose, event.item_ids, event.subject, event.detail)
            if not hmac.compare_digest(self._mac(prev, body), event.hash):
                return VerifyReport(False, count, event.seq,
                                    f"event {event.seq} was altered (hash mismatch)")
            prev = event.hash
            expected_seq += 1
            count += 1
        return self._compare_anchor(count, prev)

    def _compare_anchor(self, count: int, head: str) -> VerifyReport:
        """The chain (``count`` events ending in ``head``) against the newest anchor."""
        where = self._anchor.describe()
        anchor = self._read_anchor()
        if anchor is None:
            if count == 0:
                return VerifyReport(True, 0)
            return VerifyReport(False, count, 1, f"{where} is missing: none of the "
                                f"{count} events can be vouched for")
        seq, digest = anchor
        if seq == -2:
            return VerifyReport(False, count, None, f"{where} cannot be read")
        if seq < 0:
            return VerifyReport(False, count, None, f"{where} was altered (MAC mismatch)")
        if seq > count:
            return VerifyReport(False, count, count + 1,
                                f"events {count + 1}..{seq} were removed from the end "
                                f"(truncated; {where} names event {seq})")
        if seq and self._hash_of(seq) != digest:
            return VerifyReport(False, count, seq, f"event {seq} is not the one {where} "
                                "names (the chain was rewritten)")
        if seq < count:
            return VerifyReport(False, count, seq + 1,
                                f"events {seq + 1}..{count} are newer than the newest anchor "
                                f"(rolled back to an older {where}, or not anchored)")
        assert seq == 0 or digest == head
        ledger_problem = self.check_ledger()
        if ledger_problem is not None:
            return VerifyReport(False, count, None, ledger_problem)
        return VerifyReport(True, count)

    def _hash_of(self, seq: int) -> str | None:
        with self._catalog.read() as conn:
            row = conn.execute(sa.select(audit_events.c.hash)
                               .where(audit_events.c.seq == seq)).first()
        return str(row[0]) if row else None

    def events(
        self,
        *,
        actor: str | None = None,
        subject: str | None = None,
        item_id: str | None = None,
        action: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        conds: list[Any] = []
        if actor:
            conds.append(audit_events.c.actor == actor)
        if subject:
            conds.append(audit_events.c.subject == subject)
        if action:
            conds.append(audit_events.c.action == action)
        if item_id:
            conds.append(audit_events.c.item_ids.like(f'%"{item_id}"%'))
        # The newest ``limit`` events, oldest first: read newest-first, stop at the limit.
        stmt = sa.select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
        if conds:
            stmt = stmt.where(*conds)
        with self._catalog.read() as conn:
            rows = conn.execute(stmt).all()
        return [self._event(r) for r in reversed(rows)]


@dataclass(slots=True)
class AuditedWrite:
    """One write transaction and the audit events appended in it (``Vault.write``)."""

    conn: Connection
    _audit: AuditLog
    events: list[AuditEvent] = field(default_factory=list)

    def event(self, **fields: Any) -> AuditEvent:
        """Append an audit event inside this transaction (``AuditLog.append``'s fields)."""
        event = self._audit.append(self.conn, **fields)
        self.events.append(event)
        return event

    def event_many(self, events: Sequence[dict[str, Any]]) -> list[AuditEvent]:
        appended = self._audit.append_many(self.conn, events)
        self.events.extend(appended)
        return appended
