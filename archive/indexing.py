"""Indexing: the one builder of an item's index document, and keeping the index current.

The index is derived: it is built from the catalog and the sealed ``index``
(and ``transcript-index``) parts, and can be rebuilt at any time (``reindex``).
At ingest the document is built from memory (the same builder, no unsealing).
The builder also extracts what the text mentions (phone numbers as E.164 in the
configured default region, e-mail addresses lower-cased) so that a subject lookup
finds every written form of them, and, for items that carry an anonymised purpose
(training), a redacted copy of the text made by the item's ``AnonymisedView``.
Trainers search only that copy: a name or number that the view redacts was never
indexed in it, so no query, snippet or hit count can reveal it. Refusing query
terms instead would need to know, per item, every word its redactor would hide,
and a miss would leak; an index of redacted text cannot.

An item whose state changed is marked dirty in the same transaction as the
change, so a failed index update is retried (``reindex_dirty``) rather than lost.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import Connection

import keys
from archive import catalog as cat
from archive.anonymise import AnonymisedView
from archive.config import ArchiveConfig
from archive.errors import (
    AccessDenied,
    ContentIntegrityError,
    ItemNotFound,
    SearchIndexError,
    TemporaryFailure,
)
from archive.index import IndexDoc, SearchIndex
from archive.model import Channel, Direction, NewItem, Party, PurposeTag, Section
from archive.model import TranscriptStatus as TS
from archive.parties import normalise_email, search_terms
from archive.redaction_scan import TextScan
from archive.vault import PART_INDEX, PART_TRANSCRIPT_INDEX, Vault

log = logging.getLogger(__name__)

REINDEX_BATCH_ITEMS: Final = 200
_EMAIL_CANDIDATE_RE: Final = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
#: Section kinds whose words are the parties themselves, not mentions of someone.
PARTY_SECTIONS: Final = frozenset({"parties"})


#: Phone numbers read per item: the matcher costs ~0.3 ms a number, and a message of
#: nothing but numbers must not stall ingest (beyond it, the lookup's phrase search
#: still finds the literal forms).
MAX_NUMBER_MATCHES: Final = 2000
#: Where a phone number can be: a run of at least 7 digits and separators. The
#: phonenumbers matcher is only asked about these runs (with one character of context
#: on each side, which its own word-boundary checks look at): on a long text full of
#: short numbers ("order 42") it would otherwise try to parse thousands of candidates.
_NUMBER_RUN_RE: Final = re.compile(r"\+?\(?\d[\d\s().\-/]{5,}\d")


def mentions_in(config: ArchiveConfig, sections: Iterable[Section],
                scans: Mapping[int, TextScan] | None = None) -> tuple[str, ...]:
    """Phone numbers (E.164) and e-mail addresses (lower-case) written in the text.

    Each pattern is tried only where it can start (``TextScan``: an address at the
    start of the address characters before an '@', a number at a digit run or the
    '(' or '+' right before it), which finds what running it over every character
    finds, for a fraction of the cost on a long text. ``scans``: the sections' scans
    made already, by position (the redacted copy uses the same ones)."""
    found: dict[str, None] = {}
    region = config.default_region or None
    budget = MAX_NUMBER_MATCHES
    scans = scans or {}
    for i, section in enumerate(sections):
        if section.kind in PARTY_SECTIONS:
            continue
        text = section.text
        scan = scans.get(i)
        if scan is None or scan.text is not text:
            scan = TextScan(text)
        for run in scan.matches(_NUMBER_RUN_RE, _number_starts(scan)):
            window = text[max(0, run.start() - 1):run.end() + 1]
            for match in phonenumbers.PhoneNumberMatcher(window, region):
                found[phonenumbers.format_number(
                    match.number, phonenumbers.PhoneNumberFormat.E164)] = None
                budget -= 1
                if budget <= 0:  # inside one long run too: the matcher is lazy
                    break
            if budget <= 0:
                break
        for candidate in scan.matches(_EMAIL_CANDIDATE_RE, scan.email_starts()):
            address = normalise_email(candidate.group().strip("."))
            if address:
                found[address] = None
    return tuple(found)


def _number_starts(scan: TextScan) -> list[int]:
    """Where ``_NUMBER_RUN_RE`` can match: at the start of a digit run, or one or two
    characters before it (``(``, ``+``, ``+(``). Never inside a run: where a match
    starts inside one, one starts at the run's start too, and a match ends before a
    character that is not a digit."""
    text = scan.text
    return [s - back for s, _ in scan.digit_runs
            for back, before in ((0, ""), (1, "("), (1, "+"), (2, "+("))
            if text[s - back:s] == before]


def title_of(details: Mapping[str, Any]) -> str:
    """An item's title: an e-mail's subject, a call's title."""
    return str(details.get("subject") or details.get("title") or "")


def section_json(s: Section) -> dict[str, Any]:
    return {"kind": s.kind, "text": s.text, "speaker": s.speaker, "start_s": s.start_s}


def section_from_json(d: Mapping[str, Any]) -> Section:
    return Section(kind=d["kind"], text=d["text"], speaker=d.get("speaker"),
                   start_s=d.get("start_s"))


def index_part(details: Mapping[str, Any], sections: Iterable[Section]) -> dict[str, Any]:
    """What is sealed as an item's ``index`` part, to rebuild its document later."""
    return {"title": title_of(details), "sections": [section_json(s) for s in sections]}


class Indexer:
    """Builds index documents and keeps the index in step with the catalog."""

    def __init__(self, vault: Vault, index: SearchIndex) -> None:
        self._vault = vault
        self.index = index
        # Items indexed since their dirty flag was last cleared; the flag is cleared in
        # the next write transaction that happens anyway, costing no extra fsync.
        self._indexed: set[str] = set()
        self._indexed_lock = threading.Lock()
        #: A counter of state changes, and the last change of each item, so the index
        #: outbox can tell a document built before a change (``changed_since``).
        self.generation = 0
        self._changed: dict[str, int] = {}
        #: Set by the outbox while it runs: only then are the marks kept.
        self.tracking = False

    # -- dirty flags --------------------------------------------------------------------

    def clear_flags(self, conn: Connection) -> None:
        """Clear the dirty flag of items indexed since, inside the caller's write."""
        with self._indexed_lock:
            done, self._indexed = self._indexed, set()
        if done:
            conn.execute(cat.items.update().where(cat.items.c.id.in_(sorted(done)))
                         .values(index_dirty=False))

    def mark_dirty(self, conn: Connection, item_ids: Sequence[str]) -> None:
        """The index must be updated for these items (their state changed in ``conn``)."""
        with self._indexed_lock:
            self._indexed.difference_update(item_ids)
            self.generation += 1
            if self.tracking:
                self._changed.update(dict.fromkeys(item_ids, self.generation))
        conn.execute(cat.items.update().where(cat.items.c.id.in_(list(item_ids)))
                     .values(index_dirty=True))

    def changed_since(self, generation: int) -> dict[str, int]:
        """Items marked dirty after ``generation`` (in this process), with their last mark."""
        with self._indexed_lock:
            return {i: g for i, g in self._changed.items() if g > generation}

    def prune_changes(self, generation: int) -> None:
        """Forget marks no document still waiting was built before."""
        with self._indexed_lock:
            self._changed = {i: g for i, g in self._changed.items() if g > generation}

    def flush_flags(self) -> None:
        if self._indexed:
            with self._vault.catalog.write() as conn:
                self.clear_flags(conn)

    # -- documents ------------------------------------------------------------------------

    def party_terms(self, parties: Iterable[Party]) -> tuple[str, ...]:
        terms: list[str] = []
        for party in parties:
            for term in search_terms(self._vault.config, party):
                if term not in terms:
                    terms.append(term)
        return tuple(terms)

    def document(
        self, item_id: str, *, channel: Channel, direction: Direction, started_at: datetime,
        parties: Iterable[Party], subjects: Iterable[str], purposes: Iterable[str],
        restricted: bool, held: bool, sections: Iterable[Section], title: str,
        language: str | None = None,
    ) -> IndexDoc:
        """The one builder of an index document, at ingest and from sealed parts alike."""
        config = self._vault.config
        parties, sections, purposes = list(parties), tuple(sections), tuple(sorted(purposes))
        anonymised = {p.name for p in config.purposes if p.anonymised}
        # One scan of each text for both the mentions and the redacted copy.
        scans = {i: TextScan(s.text) for i, s in enumerate(sections)
                 if s.kind not in PARTY_SECTIONS}
        redacted = (AnonymisedView(parties, language).sections(sections, scans)
                    if anonymised.intersection(purposes) else ())
        return IndexDoc(
            item_id=item_id, channel=channel.value, direction=direction.value,
            started_at=started_at, parties=self.party_terms(parties),
            subjects=tuple(subjects), purposes=purposes,
            restricted=restricted, held=held, sections=sections, title=title,
            mentions=mentions_in(config, sections, scans), redacted=redacted, language=language,
        )

    def document_of_new(
        self, item_id: str, new: NewItem, tags: Sequence[PurposeTag],
        subjects: Iterable[str], *, restricted: bool, held: bool,
    ) -> IndexDoc:
        """The document of a just-ingested item, from memory (no unsealing)."""
        return self.document(
            item_id, channel=new.channel, direction=new.direction, started_at=new.started_at,
            parties=new.parties, subjects=subjects, purposes=(t.purpose for t in tags),
            restricted=restricted, held=held, sections=new.sections,
            title=title_of(new.details), language=new.language)

    def build(self, item_id: str) -> IndexDoc:
        """The document of an archived item, from the catalog and its sealed parts."""
        vault = self._vault
        record = vault.record(item_id)
        dek = vault.dek(item_id)
        part = json.loads(vault.unseal(item_id, PART_INDEX, dek))
        sections = [section_from_json(s) for s in part["sections"]]
        if record.transcript_status is TS.DONE:
            transcript = json.loads(vault.unseal(item_id, PART_TRANSCRIPT_INDEX, dek))
            sections.extend(section_from_json(s) for s in transcript["sections"])
        return self.document(
            item_id, channel=record.channel, direction=record.direction,
            started_at=record.started_at, parties=record.parties,
            subjects=vault.subject_identifiers(item_id), purposes=record.purpose_names,
            restricted=record.restricted, held=record.held, sections=sections,
            title=str(part.get("title", "")), language=record.language)

    # -- keeping the index current -------------------------------------------------------------

    def index_docs(self, docs: Sequence[IndexDoc]) -> bool:
        """Index documents; a failure leaves the items marked dirty for a later reindex."""
        try:
            self.index.upsert(docs)
        except SearchIndexError as exc:
            log.warning("indexing %d item(s) deferred: %s", len(docs), exc)
            return False
        with self._indexed_lock:
            self._indexed.update(d.item_id for d in docs)
        return True

    def index_items(self, item_ids: Sequence[str]) -> None:
        """Bring the index up to date; a failure leaves the items marked for reindex."""
        try:
            docs = [self.build(i) for i in item_ids]
        except (TemporaryFailure, keys.KeysError, ContentIntegrityError, ItemNotFound) as exc:
            log.warning("indexing %d item(s) deferred: %s", len(item_ids), exc)
            return
        self.index_docs(docs)

    def drop(self, item_ids: Iterable[str]) -> list[tuple[str, str]]:
        """Delete the items' documents; returns (item id, reason) for those that failed."""
        failed: list[tuple[str, str]] = []
        for item_id in item_ids:
            try:
                self.index.delete(item_id)
            except SearchIndexError as exc:
                failed.append((item_id, f"index: {exc}"))
        return failed

    def recheck(self, docs: Sequence[IndexDoc]) -> None:
        """Documents built a moment ago from memory: if an item was erased, restricted,
        held or lost a purpose meanwhile (by another thread or process), fix the index now."""
        ids = [d.item_id for d in docs]
        try:
            active_hold = sa.exists().where(
                cat.hold_items.c.item_id == cat.items.c.id,
                cat.holds.c.id == cat.hold_items.c.hold_id, cat.holds.c.lifted_at.is_(None))
            with self._vault.catalog.read() as conn:
                rows = conn.execute(
                    sa.select(cat.items.c.id, cat.items.c.restricted, active_hold.label("held"))
                    .where(cat.items.c.id.in_(ids))).all()
                purposes: dict[str, set[str]] = {}
                for item_id, purpose in conn.execute(
                        sa.select(cat.purpose_tags.c.item_id, cat.purpose_tags.c.purpose)
                        .where(cat.purpose_tags.c.item_id.in_(ids))):
                    purposes.setdefault(str(item_id), set()).add(str(purpose))
            restricted = {str(r.id): bool(r.restricted) for r in rows}
            held = {str(r.id) for r in rows if r.held}
        except TemporaryFailure as exc:
            log.warning("could not re-check %d indexed item(s): %s", len(ids), exc.reason)
            return
        changed = []
        for doc in docs:
            if doc.item_id not in restricted:  # erased meanwhile: its text must go
                for item_id, why in self.drop([doc.item_id]):
                    log.error("erased item %s is still in the index: %s", item_id, why)
            elif ((restricted[doc.item_id], doc.item_id in held,
                   purposes.get(doc.item_id, set()))
                  != (doc.restricted, doc.held, set(doc.purposes))):
                changed.append(doc.item_id)
        if changed:
            self.index_items(changed)

    def reindex(
        self, *, clear: bool = True, batch: int = REINDEX_BATCH_ITEMS,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Rebuild the derived index from the catalog and sealed content."""
        self.index.ensure()
        if clear:
            self.index.clear()
        ids = self._vault.item_ids()
        done = 0
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            docs = []
            for item_id in chunk:
                try:
                    docs.append(self.build(item_id))
                except (ContentIntegrityError, keys.KeysError, AccessDenied) as exc:
                    log.warning("item %s not indexed: %s", item_id, exc)
            self.index.upsert(docs)
            with self._vault.catalog.write() as conn:
                conn.execute(cat.items.update().where(cat.items.c.id.in_(chunk))
                             .values(index_dirty=False))
            done += len(chunk)
            if progress:
                progress(len(chunk))
        return done

    def reindex_dirty(self) -> int:
        """Index whatever a failed or interrupted indexing left behind."""
        self.flush_flags()
        ids = self._vault.item_ids(where=cat.items.c.index_dirty.is_(True))
        for start in range(0, len(ids), REINDEX_BATCH_ITEMS):
            self.index_items(ids[start : start + REINDEX_BATCH_ITEMS])
        self.flush_flags()
        return len(ids)
