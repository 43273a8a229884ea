"""Scorecards: versioned forms of weighted criteria, and how a review is scored.

A scorecard has sections of criteria; each criterion has an id (unique in the
form), a label, a weight (> 0) and may be ``auto_fail``. Saving a form under a
name that exists makes a new version; reviews keep the id of the version they
used, so changing a form never rescores old reviews.

Scoring (documented in README): ``yes`` counts 1, ``partial`` 0.5, ``no`` 0,
``na`` leaves the criterion out. The score is the weighted mean of the counted
criteria, 0..100, rounded to one decimal. A ``no`` on an ``auto_fail`` criterion
fails the whole review: its score is 0 whatever the other answers are.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import catalog as cat
from archive import quality_tables as qt
from archive.errors import ErrorCode, InvalidRequest
from archive.model import now_utc
from archive.service import Archive

_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,99}$")
MAX_CRITERIA: Final = 200


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    PARTIAL = "partial"
    NA = "na"


ANSWER_VALUE: Final = {Answer.YES: 1.0, Answer.PARTIAL: 0.5, Answer.NO: 0.0}


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    label: str
    weight: float = 1.0
    auto_fail: bool = False


@dataclass(frozen=True, slots=True)
class ScorecardSection:
    title: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True, slots=True)
class Scorecard:
    id: int
    name: str
    version: int
    sections: tuple[ScorecardSection, ...]
    created_at: datetime
    created_by: str

    @property
    def criteria(self) -> list[Criterion]:
        return [c for s in self.sections for c in s.criteria]

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "version": self.version,
                "created_at": self.created_at, "created_by": self.created_by,
                "sections": [{"title": s.title, "criteria": [asdict(c) for c in s.criteria]}
                             for s in self.sections]}


@dataclass(frozen=True, slots=True)
class Score:
    score: float
    failed: bool
    #: Per criterion: its value 0..1, or None when answered ``na``.
    values: dict[str, float | None]


def parse_sections(name: str, raw: list[dict[str, Any]]) -> tuple[ScorecardSection, ...]:
    """Sections from their JSON form; InvalidRequest names the scorecard and the reason."""
    where = f"scorecard {name!r}"
    if not raw:
        raise InvalidRequest(f"{where}: a scorecard needs at least one section")
    seen: set[str] = set()
    sections = []
    for s in raw:
        title = str(s.get("title") or "").strip()
        if not title:
            raise InvalidRequest(f"{where}: every section needs a title")
        criteria = []
        for c in s.get("criteria") or []:
            cid = str(c.get("id") or "")
            if not _ID_RE.match(cid):
                raise InvalidRequest(f"{where}: criterion id {cid!r} must be lower-case "
                                     "letters, digits, '-' or '_'")
            if cid in seen:
                raise InvalidRequest(f"{where}: criterion id {cid!r} is used twice")
            seen.add(cid)
            weight = float(c.get("weight", 1.0))
            if not 0 < weight <= 1000:
                raise InvalidRequest(f"{where}: criterion {cid!r} needs a weight above 0")
            label = str(c.get("label") or "").strip()
            if not label:
                raise InvalidRequest(f"{where}: criterion {cid!r} needs a label")
            criteria.append(Criterion(cid, label, weight, bool(c.get("auto_fail", False))))
        if not criteria:
            raise InvalidRequest(f"{where}: section {title!r} has no criteria")
        sections.append(ScorecardSection(title, tuple(criteria)))
    if len(seen) > MAX_CRITERIA:
        raise InvalidRequest(f"{where}: more than {MAX_CRITERIA} criteria")
    return tuple(sections)


def score(card: Scorecard, answers: dict[str, str]) -> Score:
    """The review's score under ``card`` (see the module docstring); every criterion
    must be answered, and only with yes, no, partial or na."""
    known = {c.id for c in card.criteria}
    extra = sorted(set(answers) - known)
    if extra:
        raise InvalidRequest(f"scorecard {card.name!r} v{card.version} has no criterion "
                             f"{extra[0]!r}")
    values: dict[str, float | None] = {}
    total = weights = 0.0
    failed = False
    for c in card.criteria:
        if c.id not in answers:
            raise InvalidRequest(f"criterion {c.id!r} of scorecard {card.name!r} is not answered")
        try:
            answer = Answer(answers[c.id])
        except ValueError:
            raise InvalidRequest(f"criterion {c.id!r}: answer {answers[c.id]!r} is not one of "
                                 "yes, no, partial, na") from None
        if answer is Answer.NA:
            values[c.id] = None
            continue
        value = ANSWER_VALUE[answer]
        values[c.id] = value
        total += value * c.weight
        weights += c.weight
        failed = failed or (c.auto_fail and answer is Answer.NO)
    result = 0.0 if failed or not weights else round(100 * total / weights, 1)
    return Score(result, failed, values)


def _from_row(row: Any) -> Scorecard:
    raw = json.loads(row.definition)
    return Scorecard(int(row.id), str(row.name), int(row.version),
                     parse_sections(str(row.name), raw["sections"]), row.created_at,
                     str(row.created_by))


def save(archive: Archive, *, name: str, sections: list[dict[str, Any]], actor: str,
         role: str) -> Scorecard:
    """Save a form: version 1 of a new name, or the next version of an existing one."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequest("a scorecard needs a name of 1 to 200 characters")
    parsed = parse_sections(name, sections)
    definition = json.dumps({"sections": [
        {"title": s.title, "criteria": [asdict(c) for c in s.criteria]} for s in parsed]})
    now = now_utc()
    with archive.vault.write() as tx:
        newest = tx.conn.execute(sa.select(sa.func.max(qt.scorecards.c.version))
                                 .where(qt.scorecards.c.name == name)).scalar()
        version = int(newest or 0) + 1
        result = tx.conn.execute(qt.scorecards.insert().values(
            name=name, version=version, definition=definition, created_at=now,
            created_by=actor))
        card_id = cat.inserted_id(result)
        tx.event(actor=actor, role=role, action="quality_scorecard_save",
                 detail={"scorecard": name, "version": version})
    return Scorecard(card_id, name, version, parsed, now, actor)


def get(conn: Connection, card_id: int) -> Scorecard:
    row = conn.execute(sa.select(qt.scorecards).where(qt.scorecards.c.id == card_id)).first()
    if row is None:
        raise InvalidRequest(f"scorecard {card_id} does not exist", code=ErrorCode.NOT_FOUND)
    return _from_row(row)


def load(archive: Archive, card_id: int) -> Scorecard:
    with archive.catalog.read() as conn:
        return get(conn, card_id)


def latest(archive: Archive, name: str | None = None) -> list[Scorecard]:
    """The newest version of every form (or of ``name``), by name."""
    newest = (sa.select(qt.scorecards.c.name, sa.func.max(qt.scorecards.c.version).label("v"))
              .group_by(qt.scorecards.c.name).subquery())
    stmt = sa.select(qt.scorecards).join(
        newest, sa.and_(newest.c.name == qt.scorecards.c.name,
                        newest.c.v == qt.scorecards.c.version)).order_by(qt.scorecards.c.name)
    if name is not None:
        stmt = stmt.where(qt.scorecards.c.name == name)
    with archive.catalog.read() as conn:
        return [_from_row(r) for r in conn.execute(stmt)]


def versions(archive: Archive, name: str) -> list[Scorecard]:
    with archive.catalog.read() as conn:
        return [_from_row(r) for r in conn.execute(
            sa.select(qt.scorecards).where(qt.scorecards.c.name == name)
            .order_by(qt.scorecards.c.version))]
