"""Monitoring policies: lexicon rules that put items in the review queue.

A policy has word lists per language (``"*"`` for every language), phrases of
one or more words, and proximity rules (word ``a`` within ``within`` words of
word ``b``). Matching is on whole words, case-insensitive (``casefold``);
an item whose language is unknown is checked against every list. It runs on
an e-mail's text (subject, body, attachments' text) after the e-mail is
archived, on a call's transcript after the transcript is attached, and on any
items again by a backfill (``archive.quality.backfill``: a stored request that a
``backfill_monitor`` job runs in batches). A hit puts the item in the queue
with where it hit (section and character offsets, or speaker and seconds),
never the words around it. A hit decides nothing: a person reviews the item
(privacy statement §9g).

Evaluating is a ``monitor`` job of the shared queue (``archive.jobs``), queued
in the item's own commit (the e-mail's, or the transcript's) while a policy is
enabled, so a crash after the acknowledgement cannot lose it and the path to
the SMTP ``250`` pays one insert, not the policies. Where the process indexes
in the background (``serve``, the SMTP server: they acknowledge first), a
worker runs the job after the acknowledgement (the embedded one, or
``commarchive worker``); elsewhere (the CLI's ``ingest``, transcription) the
process runs it right after the commit. Running a job twice (a worker crashed
after evaluating) adds no second queue entry (``queue.add``). A restricted item is
skipped (Art. 18: stored, not processed); lifting its restriction queues its job again,
in the lift's own transaction (``Archive.restriction_lifted``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import quality_tables as qt
from archive.audit import SYSTEM_ACTOR, AuditedWrite
from archive.errors import InvalidRequest, ItemNotFound
from archive.indexing import section_from_json
from archive.intake import PreparedItem
from archive.jobs import Job, JobQueue, enqueue_on
from archive.model import (
    Channel,
    IngestResult,
    ItemStatus,
    NewItem,
    Section,
    TranscriptStatus,
    now_utc,
)
from archive.quality import queue
from archive.quality.reviews import QUALITY_PURPOSE
from archive.service import Archive
from archive.vault import PART_INDEX, PART_TRANSCRIPT

log = logging.getLogger(__name__)

_WORD_RE: Final = re.compile(r"\w+(?:['\u2019]\w+)*")
TEXT_KINDS: Final = frozenset({"subject", "body", "attachment"})
MAX_TERMS: Final = 2000
MAX_WITHIN_WORDS: Final = 50
ANY_LANGUAGE: Final = "*"
#: The job kind that evaluates one item (key: its id); ``commarchive.worker.JobKind``.
JOB_KIND: Final = "monitor"
#: A job that failed is tried again after this.
RETRY_SECONDS: Final = 30.0
#: Monitor jobs claimed, evaluated and finished together (three transactions a batch).
BATCH_JOBS: Final = 32


@dataclass(frozen=True, slots=True)
class Near:
    a: str
    b: str
    within: int
    language: str = ANY_LANGUAGE


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    #: language ("*" for all) -> phrases
    lists: dict[str, tuple[str, ...]]
    near: tuple[Near, ...] = ()
    enabled: bool = True

    def definition(self) -> dict[str, Any]:
        return {"lists": {k: list(v) for k, v in self.lists.items()},
                "near": [{"a": n.a, "b": n.b, "within": n.within, "language": n.language}
                         for n in self.near]}

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "enabled": self.enabled, **self.definition()}


def words(text: str) -> list[tuple[str, int, int]]:
    """Whole words of ``text`` (casefolded) with their character offsets."""
    return [(m.group().casefold(), m.start(), m.end()) for m in _WORD_RE.finditer(text)]


def parse(name: str, raw: dict[str, Any], *, enabled: bool = True) -> Policy:
    """A policy from its JSON form; InvalidRequest names the policy and the reason."""
    where = f"policy {name!r}"
    if not name.strip() or len(name) > 200:
        raise InvalidRequest("a policy needs a name of 1 to 200 characters")
    lists: dict[str, tuple[str, ...]] = {}
    total = 0
    for language, phrases in (raw.get("lists") or {}).items():
        cleaned = tuple(p.strip() for p in phrases if str(p).strip())
        for phrase in cleaned:
            if not words(phrase):
                raise InvalidRequest(f"{where}: phrase {phrase!r} has no words")
        total += len(cleaned)
        if cleaned:
            lists[str(language)] = cleaned
    near = []
    for rule in raw.get("near") or []:
        a, b = str(rule.get("a", "")).strip(), str(rule.get("b", "")).strip()
        within = int(rule.get("within", 0))
        if len(words(a)) != 1 or len(words(b)) != 1:
            raise InvalidRequest(f"{where}: a proximity rule joins two single words, "
                                 f"not {a!r} and {b!r}")
        if not 1 <= within <= MAX_WITHIN_WORDS:
            raise InvalidRequest(f"{where}: 'within' must be 1 to {MAX_WITHIN_WORDS} words")
        near.append(Near(a, b, within, str(rule.get("language") or ANY_LANGUAGE)))
    if not lists and not near:
        raise InvalidRequest(f"{where}: give at least one phrase or proximity rule")
    if total > MAX_TERMS:
        raise InvalidRequest(f"{where}: more than {MAX_TERMS} phrases")
    return Policy(name.strip(), lists, tuple(near), enabled)


def match(
    policy: Policy, tokens: Sequence[str], language: str | None,
) -> list[tuple[str, int, int]]:
    """(rule, first token, last token) of every hit in a token sequence."""
    def applies(lang: str) -> bool:
        return language is None or lang in (ANY_LANGUAGE, language)

    # Where each word occurs: a phrase is compared only where its first word is, so a
    # long e-mail costs one pass, not one per phrase.
    at: dict[str, list[int]] = {}
    for i, token in enumerate(tokens):
        at.setdefault(token, []).append(i)
    hits: list[tuple[str, int, int]] = []
    for lang, phrases in policy.lists.items():
        if not applies(lang):
            continue
        for phrase in phrases:
            want = [w for w, _, _ in words(phrase)]
            n = len(want)
            hits += [(phrase, i, i + n - 1) for i in at.get(want[0], ())
                     if list(tokens[i:i + n]) == want]
    for rule in policy.near:
        if not applies(rule.language):
            continue
        at_a = at.get(rule.a.casefold(), [])
        at_b = at.get(rule.b.casefold(), [])
        for i in at_a:
            close = [j for j in at_b if j != i and abs(j - i) <= rule.within]
            if close:
                j = min(close, key=lambda j: abs(j - i))
                hits.append((f"{rule.a} ~{rule.within} {rule.b}", min(i, j), max(i, j)))
    return sorted(hits, key=lambda h: (h[1], h[0]))


def text_hits(policy: Policy, sections: Iterable[Section],
              language: str | None) -> list[dict[str, Any]]:
    """Hits in an e-mail's text: section number and kind, character offsets."""
    out = []
    for n, section in enumerate(sections):
        if section.kind not in TEXT_KINDS:
            continue
        found = words(section.text)
        for rule, first, last in match(policy, [w for w, _, _ in found], language):
            out.append({"rule": rule, "section": n, "kind": section.kind,
                        "start": found[first][1], "end": found[last][2]})
    return out


def transcript_hits(policy: Policy, transcript: dict[str, Any],
                    language: str | None) -> list[dict[str, Any]]:
    """Hits in a call's transcript: speaker, channel and seconds."""
    out = []
    for speaker in transcript.get("speakers", []):
        spoken = speaker.get("words", [])
        tokens = [" ".join(w for w, _, _ in words(str(x["word"]))) for x in spoken]
        for rule, first, last in match(policy, tokens, language):
            out.append({"rule": rule, "speaker": speaker.get("label"),
                        "channel": speaker.get("channel"),
                        "start_s": float(spoken[first]["start"]),
                        "end_s": float(spoken[last]["end"])})
    return out


def save(archive: Archive, name: str, raw: dict[str, Any], *, enabled: bool, actor: str,
         role: str) -> Policy:
    """Create or replace a policy; audited."""
    policy = parse(name, raw, enabled=enabled)
    with archive.vault.write() as tx:
        tx.conn.execute(qt.policies.delete().where(qt.policies.c.name == policy.name))
        tx.conn.execute(qt.policies.insert().values(
            name=policy.name, definition=json.dumps(policy.definition()), enabled=enabled,
            created_at=now_utc(), created_by=actor))
        tx.event(actor=actor, role=role, action="quality_policy_save",
                 detail={"policy": policy.name, "enabled": enabled})
    return policy


def policies(archive: Archive, *, enabled_only: bool = False) -> list[Policy]:
    stmt = sa.select(qt.policies).order_by(qt.policies.c.name)
    if enabled_only:
        stmt = stmt.where(qt.policies.c.enabled.is_(True))
    with archive.catalog.read() as conn:
        rows = conn.execute(stmt).all()
    return [parse(str(r.name), json.loads(r.definition), enabled=bool(r.enabled)) for r in rows]


Found = dict[str, list[dict[str, Any]]]
"""Per policy name, its hits in one item."""


def queue_hits_on(tx: AuditedWrite, archive: Archive, found: dict[str, Found], *,
                  actor: str, role: str) -> dict[str, list[int]]:
    """The hits of several items into the queue and their audit events, inside a write
    the caller holds (a backfill's batch commits its progress with them)."""
    entries: dict[str, list[int]] = {}
    for item_id, hits_of in found.items():
        entries[item_id] = []
        for name, hits in hits_of.items():
            if hits:
                entry = queue.add(tx.conn, archive, item_id, queue.Source.POLICY,
                                  policy=name, hits=hits)
                if entry is not None:
                    entries[item_id].append(entry)
    if found:
        tx.event_many([
            {"actor": actor, "role": role, "action": "quality_monitor",
             "purpose": QUALITY_PURPOSE, "item_ids": [item_id],
             "detail": {"policies": sorted(hits_of),
                        "hits": {k: len(v) for k, v in hits_of.items()},
                        "queued": entries[item_id]}}
            for item_id, hits_of in found.items()])
    return entries


def _queue_hits(archive: Archive, found: dict[str, Found], *, actor: str,
                role: str) -> dict[str, list[int]]:
    """``queue_hits_on`` in a transaction of its own."""
    with archive.vault.write() as tx:
        return queue_hits_on(tx, archive, found, actor=actor, role=role)


def find_hits(archive: Archive, item_id: str, chosen: Sequence[Policy],
              sections: Sequence[Section] | None = None) -> Found | None:
    """The policies' hits in one item (read under ``quality``); None when it is not the
    quality team's to monitor, or a call has no transcript yet."""
    record = archive.record(item_id)
    if QUALITY_PURPOSE not in record.purpose_names or record.restricted:
        return None
    vault = archive.vault
    found: Found = {}
    if record.channel is Channel.CALL:
        if record.transcript_status is not TranscriptStatus.DONE:
            return None
        transcript = json.loads(vault.unseal(item_id, PART_TRANSCRIPT,
                                             vault.dek(item_id, QUALITY_PURPOSE)))
        for p in chosen:
            found[p.name] = transcript_hits(p, transcript, record.language)
    else:
        if sections is None:
            part = json.loads(vault.unseal(item_id, PART_INDEX,
                                           vault.dek(item_id, QUALITY_PURPOSE)))
            sections = [section_from_json(s) for s in part["sections"]]
        for p in chosen:
            found[p.name] = text_hits(p, sections, record.language)
    return found


def check_item(archive: Archive, item_id: str, *, chosen: Sequence[Policy] | None = None,
               sections: Sequence[Section] | None = None, actor: str = SYSTEM_ACTOR,
               role: str = "system") -> list[int]:
    """Run the policies over one item's text (read under ``quality``); the new queue
    entries. Items not carrying ``quality`` are not the quality team's to monitor."""
    chosen = policies(archive, enabled_only=True) if chosen is None else chosen
    if not chosen:  # the common case on the ingest path: nothing more to read
        return []
    found = find_hits(archive, item_id, chosen, sections)
    if found is None:
        return []
    return _queue_hits(archive, {item_id: found}, actor=actor, role=role)[item_id]


def check_items(
    archive: Archive, item_ids: Sequence[str], *,
    sections: dict[str, Sequence[Section]] | None = None,
) -> tuple[dict[str, list[int]], dict[str, Exception]]:
    """``check_item`` over a batch with the enabled policies, written in one transaction:
    the new entries per item, and the items that could not be read (an item erased
    meanwhile is neither: nothing is left to check)."""
    chosen = policies(archive, enabled_only=True)
    found: dict[str, Found] = {}
    failed: dict[str, Exception] = {}
    for item_id in item_ids if chosen else ():
        try:
            hits = find_hits(archive, item_id, chosen, (sections or {}).get(item_id))
        except ItemNotFound:
            continue
        except Exception as exc:  # one unreadable item must not hold up the others
            log.warning("monitoring item %s failed: %s", item_id, exc)
            failed[item_id] = exc
            continue
        if hits is not None:
            found[item_id] = hits
    entries = _queue_hits(archive, found, actor=SYSTEM_ACTOR, role="system") if found else {}
    return {i: entries.get(i, []) for i in item_ids if i not in failed}, failed


def any_enabled(conn: Connection) -> bool:
    """Whether some policy is enabled: only then does a new item get a job."""
    return conn.execute(sa.select(qt.policies.c.name).where(
        qt.policies.c.enabled.is_(True)).limit(1)).first() is not None


def run_claimed(archive: Archive, jobs: JobQueue, claimed: Sequence[Job], worker: str, *,
                sections: dict[str, Sequence[Section]] | None = None) -> dict[str, list[int]]:
    """Evaluate claimed monitor jobs as one batch and finish them (an item that could not
    be read is queued again); the new queue entries of the jobs completed."""
    try:
        entries, failed = check_items(archive, [j.key for j in claimed], sections=sections)
    except Exception as exc:  # the batch's write: every job is tried again later
        for job in claimed:
            jobs.fail(job, worker, f"{type(exc).__name__}: {exc}", retry_in_s=RETRY_SECONDS)
        raise
    for job in claimed:
        if job.key in failed:
            why = failed[job.key]
            jobs.fail(job, worker, f"{type(why).__name__}: {why}", retry_in_s=RETRY_SECONDS)
    done = jobs.complete_many([j for j in claimed if j.key not in failed], worker)
    return {j.key: entries[j.key] for j in done}


def run_queued(archive: Archive, *, worker: str, keys: Sequence[str] | None = None,
               queue: JobQueue | None = None) -> int:
    """Run runnable monitor jobs (of ``keys`` when given) in batches until none is left;
    how many were claimed. A failing batch is logged and left to its retry."""
    jobs = queue or JobQueue(archive.catalog)
    ran = 0
    while claimed := jobs.claim_many(worker, [JOB_KIND], keys=keys, limit=BATCH_JOBS):
        ran += len(claimed)
        try:
            run_claimed(archive, jobs, claimed, worker)
        except Exception:
            log.exception("monitoring %d item(s) failed; retried later", len(claimed))
    return ran


def install(archive: Archive) -> None:
    """Queue a job in every new e-mail's commit, every new transcript's commit and every
    lifted restriction's commit while a policy is enabled; run the first two at once
    unless a background indexer acknowledges first (a worker runs the rest)."""
    jobs = JobQueue(archive.catalog)
    worker = f"inline:{os.getpid()}"
    due: set[str] = set()  # queued by this process's commits, not run yet
    lock = threading.Lock()

    def monitored(f: PreparedItem) -> bool:
        return (f.new.channel is not Channel.CALL and f.new.status is not ItemStatus.UNPARSED
                and any(t.purpose == QUALITY_PURPOSE for t in f.tags))

    def on_commit(conn: Connection, group: Sequence[PreparedItem]) -> None:
        ids = [f.item_id for f in group if monitored(f)]
        if ids and any_enabled(conn):
            enqueue_on(conn, JOB_KIND, ids)
            with lock:
                due.update(ids)

    def on_lift(conn: Connection, item_ids: Sequence[str]) -> None:
        if item_ids and any_enabled(conn):  # the check it skipped while restricted
            enqueue_on(conn, JOB_KIND, item_ids)

    def on_transcript_commit(conn: Connection, item_id: str) -> None:
        if any_enabled(conn):
            enqueue_on(conn, JOB_KIND, [item_id])
            with lock:
                due.add(item_id)

    def run_now(item_id: str, sections: Sequence[Section] | None) -> None:
        with lock:
            if item_id not in due:
                return
            due.discard(item_id)
        claimed = jobs.claim_many(worker, [JOB_KIND], keys=[item_id], limit=1)
        if claimed:  # else a worker has it already
            run_claimed(archive, jobs, claimed, worker,
                        sections=None if sections is None else {item_id: sections})

    def on_ingest(result: IngestResult, new: NewItem) -> None:
        if archive.outbox.running or not result.created:
            with lock:  # acknowledged at commit: a worker runs the job
                due.discard(result.item_id)
        else:
            run_now(result.item_id, new.sections)

    def on_transcript(item_id: str) -> None:
        run_now(item_id, None)  # transcription is behind the acknowledgement already

    archive.intake.committing.append(on_commit)
    archive.transcripts.committing.append(on_transcript_commit)
    archive.ingest_listeners.append(on_ingest)
    archive.transcripts.listeners.append(on_transcript)
    archive.restriction_lifted.append(on_lift)
