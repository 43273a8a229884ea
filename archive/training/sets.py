"""Building training sets: pick items by criteria, sample, keep the set in the catalog.

A trainer picks by channel, language and date range, a sample size, an optional
stratification (equal shares per channel or language) and a seed, so the same
criteria and seed on the same archive pick the same items. Only items the
trainer may read through an anonymised purpose are candidates (live tag, not
restricted: ``Archive.authorize`` decides, as for every read). A call is taken
only with a transcript trustworthy enough to bleep it by (done, not marked low
confidence); one that is not is left out and listed, and the next candidate
takes its place.

Every set gets a fresh random secret for its pseudonyms, wrapped under the
anonymised purpose's key: the set can be opened only while that key opens it,
and deleting the set row (expiry, or the trainer) crypto-shreds it.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa

import keys
from archive import catalog as cat
from archive import quality_tables
from archive import training_tables as tt
from archive.config import Role
from archive.errors import AccessDenied, ErrorCode, InvalidRequest
from archive.model import Channel, ItemRecord, ItemStatus, TranscriptStatus, now_utc
from archive.service import Archive
from archive.training.pseudonyms import SetPseudonyms
from archive.users import User
from archive.vault import PART_TRANSCRIPT

MAX_SET_ITEMS: Final = 500
SAMPLE_BATCH_ITEMS: Final = 100
SET_KEY_BYTES: Final = 32


class SetStatus(StrEnum):
    DRAFT = "draft"
    #: Handed out: its ZIP was downloaded at least once.
    EXPORTED = "exported"


class Stratify(StrEnum):
    CHANNEL = "channel"
    LANGUAGE = "language"


@dataclass(frozen=True, slots=True)
class Criteria:
    """What a set is built from; kept with the set and written into its datasheet."""

    size: int
    channel: Channel | None = None
    language: str | None = None
    since: date | None = None
    until: date | None = None
    stratify: Stratify | None = None
    seed: int = 0
    #: The quality team's work (``archive.quality``): reviewed or not (a submitted review
    #: outside calibration), its score range (0-100, implies reviewed), and the queue topic
    #: (a monitoring policy that flagged the item).
    reviewed: bool | None = None
    score_min: float | None = None
    score_max: float | None = None
    topic: str | None = None

    def public(self) -> dict[str, Any]:
        return {"size": self.size, "channel": self.channel.value if self.channel else None,
                "language": self.language,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "stratify": self.stratify.value if self.stratify else None, "seed": self.seed,
                "reviewed": self.reviewed, "score_min": self.score_min,
                "score_max": self.score_max, "topic": self.topic}

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Criteria:
        return cls(size=int(raw["size"]),
                   channel=Channel(raw["channel"]) if raw.get("channel") else None,
                   language=raw.get("language"),
                   since=date.fromisoformat(raw["since"]) if raw.get("since") else None,
                   until=date.fromisoformat(raw["until"]) if raw.get("until") else None,
                   stratify=Stratify(raw["stratify"]) if raw.get("stratify") else None,
                   seed=int(raw.get("seed", 0)), reviewed=raw.get("reviewed"),
                   score_min=raw.get("score_min"), score_max=raw.get("score_max"),
                   topic=raw.get("topic"))


@dataclass(frozen=True, slots=True)
class Member:
    item_id: str
    pseudo_id: str
    position: int
    gone_reason: str | None = None


@dataclass(slots=True)
class TrainingSet:
    id: str
    title: str
    purpose_text: str
    criteria: Criteria
    surrogates: bool
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    status: SetStatus
    exported_at: datetime | None
    exported_by: str | None
    excluded: list[dict[str, str]]
    members: list[Member] = field(default_factory=list)
    key_purpose: str = ""

    @property
    def live_members(self) -> list[Member]:
        return [m for m in self.members if m.gone_reason is None]

    def public(self) -> dict[str, Any]:
        """What the trainer sees of the set itself (no archive item ids)."""
        return {
            "id": self.id, "title": self.title, "purpose": self.purpose_text,
            "criteria": self.criteria.public(), "surrogates": self.surrogates,
            "created_by": self.created_by, "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "status": self.status.value,
            "exported_at": self.exported_at.isoformat() if self.exported_at else None,
            "exported_by": self.exported_by, "items": len(self.live_members),
            "excluded": list(self.excluded),
            "gone": [{"id": m.pseudo_id, "reason": m.gone_reason} for m in self.members
                     if m.gone_reason is not None],
        }


def trainer_purpose(archive: Archive, user: User) -> str:
    """The anonymised purpose through which this user builds sets (trainers only)."""
    if user.role is not Role.TRAINER:
        raise AccessDenied(ErrorCode.WRONG_ROLE,
                           f"role {user.role.value} may not build training sets (needs trainer)")
    config = archive.config
    names = sorted(n for n in config.purposes_for_role(user.role)
                   if config.purpose(n).anonymised)
    if not names:
        raise AccessDenied(ErrorCode.PURPOSE_NOT_HELD,
                           "the trainer role holds no anonymised purpose")
    return names[0]


@dataclass(frozen=True, slots=True)
class Candidate:
    """What sampling needs of an item, read from the catalog without its record."""

    id: str
    channel: str
    language: str | None


def candidates(archive: Archive, purpose: str, criteria: Criteria,
               now: datetime) -> list[Candidate]:
    """Items matching the criteria that carry a live ``purpose`` and are not restricted
    (each is still authorised as it is taken: :func:`build_set`)."""
    items, tags = cat.items, cat.purpose_tags
    stmt = (sa.select(items.c.id, items.c.channel, items.c.language)
            .join(tags, tags.c.item_id == items.c.id)
            .where(tags.c.purpose == purpose, tags.c.retain_until > now,
                   items.c.restricted.is_(False), items.c.status == ItemStatus.OK.value)
            .order_by(items.c.id))
    if criteria.channel is not None:
        stmt = stmt.where(items.c.channel == criteria.channel.value)
    if criteria.language:
        stmt = stmt.where(items.c.language == criteria.language)
    if criteria.since is not None:
        stmt = stmt.where(items.c.started_at >= datetime.combine(criteria.since, time(),
                                                                 tzinfo=UTC))
    if criteria.until is not None:
        stmt = stmt.where(items.c.started_at < datetime.combine(criteria.until, time.max,
                                                                tzinfo=UTC))
    stmt = _quality_criteria(stmt, criteria)
    with archive.catalog.read() as conn:
        return [Candidate(str(r.id), str(r.channel), r.language) for r in conn.execute(stmt)]


def _quality_criteria(stmt: sa.Select[Any], criteria: Criteria) -> sa.Select[Any]:
    """Narrow by the quality team's reviews and queue (their catalog rows name no person)."""
    items, reviews, queue = cat.items, quality_tables.reviews, quality_tables.queue
    reviewed = (reviews.c.item_id == items.c.id, reviews.c.submitted_at.is_not(None),
                reviews.c.calibration.is_(False))
    scored = [reviews.c.score >= criteria.score_min] if criteria.score_min is not None else []
    if criteria.score_max is not None:
        scored.append(reviews.c.score <= criteria.score_max)
    if scored or criteria.reviewed:
        stmt = stmt.where(sa.exists(sa.select(reviews.c.id).where(*reviewed, *scored)))
    elif criteria.reviewed is False:
        stmt = stmt.where(~sa.exists(sa.select(reviews.c.id).where(*reviewed)))
    if criteria.topic:
        stmt = stmt.where(sa.exists(sa.select(queue.c.id).where(
            queue.c.item_id == items.c.id, queue.c.source == "policy",
            queue.c.policy == criteria.topic)))
    return stmt


def sample_order(found: Sequence[Candidate], criteria: Criteria) -> list[Candidate]:
    """Every candidate in the order the sample takes them: shuffled by the seed; with
    stratification, one from each group in turn, so groups get equal shares."""
    rng = random.Random(criteria.seed)
    if criteria.stratify is None:
        order = list(found)
        rng.shuffle(order)
        return order
    groups: dict[str, list[Candidate]] = {}
    for candidate in found:
        key = (candidate.channel if criteria.stratify is Stratify.CHANNEL
               else candidate.language or "unknown")
        groups.setdefault(key, []).append(candidate)
    queues = [groups[k] for k in sorted(groups)]
    for queue in queues:
        rng.shuffle(queue)
    order = []
    while any(queues):
        for queue in queues:
            if queue:
                order.append(queue.pop(0))
    return order


def _taken(archive: Archive, user: User, purpose: str, order: Sequence[Candidate],
           now: datetime) -> Iterator[ItemRecord]:
    """The records of ``order`` the user may read through ``purpose``, in that order,
    read from the catalog a batch at a time (a sample of 10 reads few records)."""
    for start in range(0, len(order), SAMPLE_BATCH_ITEMS):
        batch = [c.id for c in order[start:start + SAMPLE_BATCH_ITEMS]]
        records = archive.vault.records_of(batch)
        for item_id in batch:
            record = records.get(item_id)
            if record is None:
                continue
            try:
                archive.reader.authorize(user, record, purpose, now=now)
            except AccessDenied:
                continue
            yield record


def unfit_call(archive: Archive, record: ItemRecord) -> str | None:
    """Why a call cannot be handed out as bleeped audio (None: it can)."""
    if record.channel is not Channel.CALL:
        return None
    if record.transcript_status is not TranscriptStatus.DONE:
        return f"no transcript to bleep by (transcript {record.transcript_status.value})"
    transcript = json.loads(archive.vault.unseal_for_system(record.id, PART_TRANSCRIPT))
    if transcript.get("low_confidence"):
        return "transcript marked low confidence: bleeping would miss what it missed"
    return None


def build_set(archive: Archive, user: User, *, title: str, purpose_text: str,
              criteria: Criteria, surrogates: bool = False,
              now: datetime | None = None) -> TrainingSet:
    """Pick, sample and store a set (a draft until exported); audited."""
    now = now or now_utc()
    purpose = trainer_purpose(archive, user)
    if not 1 <= criteria.size <= MAX_SET_ITEMS:
        raise InvalidRequest(f"sample size {criteria.size}: must be 1 to {MAX_SET_ITEMS}")
    if criteria.reviewed is False and (criteria.score_min is not None
                                       or criteria.score_max is not None):
        raise InvalidRequest("a score range needs reviewed items; it cannot be combined with "
                             "reviewed: false")
    for bound in (criteria.score_min, criteria.score_max):
        if bound is not None and not 0 <= bound <= 100:
            raise InvalidRequest(f"score {bound}: scores run from 0 to 100")
    if (criteria.score_min is not None and criteria.score_max is not None
            and criteria.score_min > criteria.score_max):
        raise InvalidRequest(f"score range {criteria.score_min} to {criteria.score_max}: "
                             "the lowest is above the highest")
    if criteria.since and criteria.until and criteria.since > criteria.until:
        raise InvalidRequest(f"date range {criteria.since} to {criteria.until}: "
                             "the start is after the end")
    set_id = "ts-" + secrets.token_hex(8)
    secret = os.urandom(SET_KEY_BYTES)
    pseudonyms = SetPseudonyms(secret, surrogates=surrogates)
    picked: list[ItemRecord] = []
    excluded: list[dict[str, str]] = []
    order = sample_order(candidates(archive, purpose, criteria, now), criteria)
    for record in _taken(archive, user, purpose, order, now):
        if len(picked) == criteria.size:
            break
        why = unfit_call(archive, record)
        if why is None:
            picked.append(record)
        else:
            excluded.append({"id": pseudonyms.item_id(record.id),
                             "channel": record.channel.value, "reason": why})
    if not picked:
        raise InvalidRequest("no item matches the criteria (or none the trainer may read): "
                             + json.dumps(criteria.public()), code=ErrorCode.NOT_FOUND)
    members = sorted(((pseudonyms.item_id(r.id), r) for r in picked), key=lambda m: m[0])
    expires_at = min(t.retain_until for r in picked for t in r.purposes if t.purpose == purpose)
    wrapped = archive.vault.wrap(secret, [purpose], tt.key_context(set_id))[0]
    with archive.vault.write() as tx:
        tx.conn.execute(tt.training_sets.insert(), {
            "id": set_id, "title": title, "purpose_text": purpose_text,
            "criteria": json.dumps(criteria.public()), "surrogates": surrogates,
            "created_by": user.name, "created_at": now, "expires_at": expires_at,
            "status": SetStatus.DRAFT.value, "excluded": json.dumps(excluded),
            "key_purpose": wrapped.purpose, "key_version": wrapped.version,
            "key_blob": wrapped.blob})
        tx.conn.execute(tt.training_set_items.insert(), [
            {"set_id": set_id, "item_id": r.id, "pseudo_id": pseudo, "position": n}
            for n, (pseudo, r) in enumerate(members)])
        tx.event(actor=user.name, role=user.role.value, action="training_set_build",
                 purpose=purpose, item_ids=[r.id for _, r in members],
                 detail={"set_id": set_id, "criteria": criteria.public(),
                         "excluded": len(excluded), "surrogates": surrogates})
    return get_set(archive, set_id)


def _of_row(row: Any) -> TrainingSet:
    return TrainingSet(
        id=row.id, title=row.title, purpose_text=row.purpose_text,
        criteria=Criteria.of(json.loads(row.criteria)), surrogates=bool(row.surrogates),
        created_by=row.created_by, created_at=row.created_at, expires_at=row.expires_at,
        status=SetStatus(row.status), exported_at=row.exported_at,
        exported_by=row.exported_by, excluded=json.loads(row.excluded),
        key_purpose=row.key_purpose)


def get_set(archive: Archive, set_id: str) -> TrainingSet:
    with archive.catalog.read() as conn:
        row = conn.execute(sa.select(tt.training_sets)
                           .where(tt.training_sets.c.id == set_id)).first()
        if row is None:
            raise InvalidRequest(f"training set {set_id} not found (or expired)",
                                 code=ErrorCode.NOT_FOUND)
        found = _of_row(row)
        found.members = [
            Member(str(m.item_id), str(m.pseudo_id), int(m.position), m.gone_reason)
            for m in conn.execute(sa.select(tt.training_set_items)
                                  .where(tt.training_set_items.c.set_id == set_id)
                                  .order_by(tt.training_set_items.c.position))]
    return found


def list_sets(archive: Archive) -> list[TrainingSet]:
    with archive.catalog.read() as conn:
        rows = conn.execute(sa.select(tt.training_sets)
                            .order_by(tt.training_sets.c.created_at.desc())).all()
        counts: dict[str, list[Member]] = {}
        for m in conn.execute(sa.select(tt.training_set_items)):
            counts.setdefault(str(m.set_id), []).append(
                Member(str(m.item_id), str(m.pseudo_id), int(m.position), m.gone_reason))
    out = []
    for row in rows:
        found = _of_row(row)
        found.members = sorted(counts.get(found.id, []), key=lambda m: m.position)
        out.append(found)
    return out


def open_pseudonyms(archive: Archive, user: User, found: TrainingSet) -> SetPseudonyms:
    """The set's pseudonyms, its secret unwrapped under its purpose key (trainers only)."""
    if trainer_purpose(archive, user) != found.key_purpose:
        raise AccessDenied(ErrorCode.PURPOSE_NOT_HELD,
                           f"training set {found.id} was built under another purpose")
    with archive.catalog.read() as conn:
        row = conn.execute(sa.select(tt.training_sets.c.key_purpose,
                                     tt.training_sets.c.key_version,
                                     tt.training_sets.c.key_blob)
                           .where(tt.training_sets.c.id == found.id)).one()
    try:
        secret = archive.keyring.unwrap(
            keys.WrappedKey(row.key_purpose, row.key_version, row.key_blob),
            tt.key_context(found.id))
    except keys.KeysError as exc:
        raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                           f"training set {found.id} cannot be opened: {exc}") from None
    return SetPseudonyms(secret, surrogates=found.surrogates)


def delete_set(archive: Archive, user: User, set_id: str) -> None:
    """Delete a set (its secret with it: nobody can name its pseudonyms again); audited."""
    trainer_purpose(archive, user)
    found = get_set(archive, set_id)
    with archive.vault.write() as tx:
        tx.conn.execute(tt.training_sets.delete().where(tt.training_sets.c.id == set_id))
        tx.conn.execute(tt.training_set_items.delete()
                        .where(tt.training_set_items.c.set_id == set_id))
        tx.event(actor=user.name, role=user.role.value, action="training_set_delete",
                 item_ids=[m.item_id for m in found.members], detail={"set_id": set_id})

