"""The quality team's search filters: agent, has-review and queue, resolved in the catalog.

Reviews and queue entries are catalog rows that change with every review; copying
them into index documents would need a reindex per review. So ``narrow`` resolves
them at search time to a set of item ids the index filters by
(``SearchQuery.item_ids`` / ``exclude_ids``), and an agent (an ``agent`` user linked
to its identifiers, ``archive.quality.agents``) to those identifiers, matched in the
parties field like the party filter, any one of them (``SearchQuery.any_party``):
the items the agent took part in, on either side.

- **reviewed**: the item has a submitted review (calibration rounds aside, as for the
  sampler): ``True`` keeps only those, ``False`` leaves them out. A review started
  but not submitted is not a review yet (its queue entry says ``in_review``).
- **queue**: the item has a queue entry from ``any`` source, from one source
  (``sample``, ``policy``, ``manual``, ``calibration``), or from one monitoring policy
  (``policy:NAME``); with **queue_status**, an entry in that status (open, in_review,
  done).

Who may use them: ``quality`` all of them; ``privacy`` and ``legal`` the agent
filter, which only names who took part (they may search by party anyway); an
anonymised role never (it may not search for a person). Review and queue state is
the quality team's own, bound to the ``quality`` purpose: every other role gets
``wrong_role``.

A set larger than ``MAX_FILTER_IDS`` is refused with the reason (a date range
narrows it: the sets are resolved within the query's window).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from archive import catalog as cat
from archive import quality_tables as qt
from archive.config import Role
from archive.errors import AccessDenied, ErrorCode, InvalidRequest
from archive.index import SearchQuery
from archive.quality import agents
from archive.quality.queue import Source, Status
from archive.service import Archive
from archive.users import User

#: The most item ids one filter may resolve to (the search request carries them all:
#: about 40 bytes each to Elasticsearch).
MAX_FILTER_IDS: Final = 500_000
ANY_QUEUE: Final = "any"
POLICY_QUEUE: Final = "policy:"
#: Roles that may filter by agent: those that read in full and may search by party.
AGENT_FILTER_ROLES: Final = frozenset({Role.QUALITY, Role.PRIVACY, Role.LEGAL})


@dataclass(frozen=True, slots=True)
class QualityFilters:
    #: An ``agent`` user's name (``agents.named``).
    agent: str | None = None
    reviewed: bool | None = None
    #: ``any``, a queue source, or ``policy:NAME``.
    queue: str | None = None
    queue_status: Status | None = None

    @property
    def review_state(self) -> bool:
        return (self.reviewed is not None or self.queue is not None
                or self.queue_status is not None)


def may_filter_by_agent(archive: Archive, user: User) -> bool:
    return user.role in AGENT_FILTER_ROLES and not archive.role_is_anonymised(user.role)


def queue_choices(archive: Archive) -> list[str]:
    """What the queue filter takes: any, each source, each monitoring policy by name."""
    with archive.catalog.read() as conn:
        names = {str(r[0]) for r in conn.execute(sa.select(qt.policies.c.name))}
        names |= {str(r[0]) for r in conn.execute(
            sa.select(qt.queue.c.policy).distinct().where(qt.queue.c.policy != ""))}
    return [ANY_QUEUE, *(s.value for s in Source), *(POLICY_QUEUE + n for n in sorted(names))]


def narrow(archive: Archive, user: User, query: SearchQuery,
           filters: QualityFilters) -> SearchQuery:
    """``query`` narrowed by ``filters`` (see the module docstring); the same query when
    none is set. AccessDenied for a role that may not use one, InvalidRequest naming a
    value that does not exist or a set that is too large."""
    if filters.agent is None and not filters.review_state:
        return query
    if filters.agent is not None and not may_filter_by_agent(archive, user):
        raise AccessDenied(ErrorCode.WRONG_ROLE, f"role {user.role.value} may not filter by "
                           "agent: it may not search for a person")
    if filters.review_state and user.role is not Role.QUALITY:
        raise AccessDenied(ErrorCode.WRONG_ROLE, f"role {user.role.value} may not filter by "
                           "review or queue: those are the quality team's")
    any_party = query.any_party
    if filters.agent is not None:
        any_party = tuple(_identifiers(archive, filters.agent))
    include, exclude = query.item_ids, query.exclude_ids
    window = (query.since, query.until)
    if filters.reviewed is not None:
        reviewed = _ids(archive, _reviewed(), window, "has-review")
        if filters.reviewed:
            include = reviewed if include is None else include & reviewed
        else:
            exclude = exclude | reviewed
    if filters.queue is not None or filters.queue_status is not None:
        queued = _ids(archive, _queued(archive, filters), window, "queue")
        include = queued if include is None else include & queued
    if include is not None:  # one set is enough: a shorter request
        include, exclude = include - exclude, frozenset()
    return dataclasses.replace(query, any_party=any_party, item_ids=include,
                               exclude_ids=exclude)


def _identifiers(archive: Archive, name: str) -> list[str]:
    found = agents.named(archive).get(name)
    if found is None:
        raise InvalidRequest(f"agent {name!r}: no agent user of that name is linked to "
                             "identifiers (the search filters list the agents)")
    return found[1]


def _reviewed() -> sa.Select[Any]:
    r = qt.reviews
    return sa.select(r.c.item_id).where(r.c.submitted_at.is_not(None),
                                        r.c.calibration.is_(False))


def _queued(archive: Archive, filters: QualityFilters) -> sa.Select[Any]:
    q = qt.queue
    stmt = sa.select(q.c.item_id)
    wanted = filters.queue or ANY_QUEUE
    if wanted.startswith(POLICY_QUEUE):
        name = wanted[len(POLICY_QUEUE):]
        if POLICY_QUEUE + name not in queue_choices(archive):
            raise InvalidRequest(f"queue {wanted!r}: no monitoring policy named {name!r}")
        stmt = stmt.where(q.c.source == Source.POLICY.value, q.c.policy == name)
    elif wanted != ANY_QUEUE:
        if wanted not in {s.value for s in Source}:
            raise InvalidRequest(
                f"queue {wanted!r}: not a queue (any, {', '.join(s.value for s in Source)}, "
                "or policy:NAME)")
        stmt = stmt.where(q.c.source == wanted)
    if filters.queue_status is not None:
        stmt = stmt.where(q.c.status == filters.queue_status.value)
    return stmt


def _ids(archive: Archive, stmt: sa.Select[Any],
         window: tuple[datetime | None, datetime | None], what: str) -> frozenset[str]:
    """The distinct item ids ``stmt`` selects, of items started within ``window``."""
    since, until = window
    if since is not None or until is not None:
        items = cat.items
        column = stmt.selected_columns[0]
        stmt = stmt.join(items, items.c.id == column)
        if since is not None:
            stmt = stmt.where(items.c.started_at >= since)
        if until is not None:
            stmt = stmt.where(items.c.started_at < until)
    with archive.catalog.read() as conn:
        ids = frozenset(str(r[0]) for r in conn.execute(
            stmt.distinct().limit(MAX_FILTER_IDS + 1)))
    if len(ids) > MAX_FILTER_IDS:
        raise InvalidRequest(f"the {what} filter names more than {MAX_FILTER_IDS:,} items, "
                             "more than one search filters by: narrow it with a date range")
    return ids
