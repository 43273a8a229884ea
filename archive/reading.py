"""Reading: authorise by role and purpose, unseal, anonymise, search; every read audited.

Content is readable only through a purpose the caller's role holds AND the item
still carries (not past retention; for legal and privacy, also while held). A
purpose marked ``anonymised`` (training) gives only the anonymised view:
redacted text, bleeped audio, names withheld.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from archive import catalog as cat
from archive.anonymise import (
    WAV_HEAD_BYTES,
    AnonymisedView,
    bleep_slice,
    bleep_wav,
    looks_identifying,
    pcm_layout,
)
from archive.config import ArchiveConfig, Purpose, Role
from archive.errors import (
    AccessDenied,
    ErrorCode,
    InvalidRequest,
    SearchIndexError,
    TemporaryFailure,
)
from archive.index import SearchIndex, SearchQuery, SearchResult
from archive.index.query import parse_query
from archive.model import Channel, ItemRecord, TranscriptStatus, now_utc
from archive.users import User
from archive.vault import (
    PART_DETAILS,
    PART_ORIGINAL,
    PART_PLAYBACK,
    PART_TRANSCRIPT,
    Vault,
    json_bytes,
)
from archive.view_cache import ViewCache

log = logging.getLogger(__name__)

READ_ROLES: Final = frozenset({Role.QUALITY, Role.TRAINER, Role.PRIVACY, Role.LEGAL})
RESTRICTED_READERS: Final = frozenset({Role.PRIVACY, Role.LEGAL})
MAX_SEARCH_LIMIT: Final = 200


@dataclass(frozen=True, slots=True)
class Content:
    item_id: str
    part: str
    data: bytes
    content_type: str
    purpose: str
    anonymised: bool = False


@dataclass(frozen=True, slots=True)
class ContentSlice:
    """Bytes ``[start, start + len(content.data))`` of content ``size`` bytes long."""

    content: Content
    start: int
    size: int


#: Given the content's size, the (start, length) to read; raises RangeNotSatisfiable.
RangePick = Callable[[int], tuple[int, int]]


@dataclass(frozen=True, slots=True)
class ItemView:
    record: ItemRecord
    details: dict[str, Any]
    purpose: str | None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    disclosures: list[dict[str, Any]] = field(default_factory=list)
    #: Read through an anonymised purpose: names, addresses and disclosures withheld.
    anonymised: bool = False
    #: The parties as the reader may see them (pseudonymised when anonymised).
    parties: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SearchPage:
    result: SearchResult
    records: dict[str, ItemRecord]
    #: Each hit's parties as the searcher may see them (pseudonymised when anonymised).
    parties: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def live_purposes(record: ItemRecord, role: Role, now: datetime) -> set[str]:
    """The purposes an item still carries for ``role``: those not past retention, and
    all of them for legal and privacy while it is held (a hold preserves data for
    them; it does not extend anyone else's access)."""
    held = record.held and role in RESTRICTED_READERS
    return {t.purpose for t in record.purposes if t.retain_until > now or held}


class Reader:
    """Everything a person reads of the archive goes through here."""

    def __init__(self, vault: Vault, index: SearchIndex) -> None:
        self._vault = vault
        self._index = index
        #: The one anonymised view per item every trainer read takes its parts from.
        self.views = ViewCache(vault)

    @property
    def _config(self) -> ArchiveConfig:
        return self._vault.config

    def role_is_anonymised(self, role: Role) -> bool:
        """Whether everything this role may read is anonymised (e.g. trainers)."""
        if role in self._config.all_purpose_roles or role in RESTRICTED_READERS:
            return False
        names = self._config.purposes_for_role(role)
        return bool(names) and all(self._config.purpose(n).anonymised for n in names)

    def authorize(
        self, user: User, record: ItemRecord, purpose: str | None = None, *,
        now: datetime | None = None,
    ) -> Purpose:
        """The purpose through which ``user`` may read ``record`` (or AccessDenied)."""
        config = self._config
        if user.role not in READ_ROLES:
            raise AccessDenied(ErrorCode.WRONG_ROLE,
                               f"role {user.role.value} may not read content",
                               item_id=record.id)
        if record.restricted and user.role not in RESTRICTED_READERS:
            raise AccessDenied(ErrorCode.RESTRICTED,
                               "item is restricted (Art. 18); only privacy and legal may read it",
                               item_id=record.id)
        now = now or now_utc()
        held = config.purposes_for_role(user.role)
        carried = live_purposes(record, user.role, now)
        if purpose is not None:
            if purpose not in held:
                raise AccessDenied(ErrorCode.PURPOSE_NOT_HELD,
                                   f"role {user.role.value} does not hold purpose {purpose!r}",
                                   item_id=record.id)
            if purpose not in carried:
                raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                                   f"item does not carry purpose {purpose!r}", item_id=record.id)
            return config.purpose(purpose)
        usable = sorted(held & carried)
        if not usable:
            raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                               f"item carries none of the purposes of role {user.role.value}",
                               item_id=record.id)
        # Prefer a purpose that gives the full (not anonymised) view.
        usable.sort(key=lambda n: config.purpose(n).anonymised)
        return config.purpose(usable[0])

    def read_content(
        self, user: User, item_id: str, *, part: str = PART_ORIGINAL,
        purpose: str | None = None,
    ) -> Content:
        """Unseal a part for ``user`` through a purpose they hold; audited."""
        vault = self._vault
        record = vault.record(item_id)
        chosen = self.authorize(user, record, purpose)
        row = vault.part_row(item_id, part)
        data = vault.unseal(item_id, part, vault.dek(item_id, chosen.name), row)
        content_type = str(row.content_type)
        anonymised = chosen.anonymised and user.role not in RESTRICTED_READERS
        if anonymised:
            data, content_type = self._anonymise(record, part, data)
        vault.record_event(
            actor=user.name, role=user.role.value, action="read", purpose=chosen.name,
            item_ids=[item_id], detail={"part": part, "anonymised": anonymised},
        )
        return Content(item_id, part, data, content_type, chosen.name, anonymised)

    def read_audio(self, user: User, item_id: str, *, purpose: str | None = None) -> Content:
        """A call's audio as a browser plays it: the derived 16-bit PCM WAV when the
        original (kept byte-exact) is in another format, else the original; audited and
        anonymised like :meth:`read_content`."""
        record = self._vault.record(item_id)
        self.authorize(user, record, purpose)
        if record.channel is not Channel.CALL:
            raise InvalidRequest(f"item {item_id} is not a call", code=ErrorCode.NOT_FOUND)
        if not self._has_playback(item_id):
            return self.read_content(user, item_id, part=PART_ORIGINAL, purpose=purpose)
        content = self.read_content(user, item_id, part=PART_PLAYBACK, purpose=purpose)
        return dataclasses.replace(content, content_type="audio/wav")

    def read_audio_range(self, user: User, item_id: str, pick: RangePick, *,
                         purpose: str | None = None) -> ContentSlice:
        """A byte range of :meth:`read_audio`, for a player that streams: only the sealed
        chunks holding it are read and decrypted. Anonymised audio is bleeped in place, so
        a range is the same bytes of the whole bleeped call (``bleep_slice``) and costs
        what the range costs, not a whole call's decryption. Audited per range."""
        record = self._vault.record(item_id)
        chosen = self.authorize(user, record, purpose)
        if record.channel is not Channel.CALL:
            raise InvalidRequest(f"item {item_id} is not a call", code=ErrorCode.NOT_FOUND)
        anonymised = chosen.anonymised and user.role not in RESTRICTED_READERS
        part = PART_PLAYBACK if self._has_playback(item_id) else PART_ORIGINAL
        vault = self._vault
        row = vault.part_row(item_id, part)
        size = int(row.plain_size)
        dek = vault.dek(item_id, chosen.name)
        layout = None
        if anonymised:
            spans = self._bleep_spans(record)
            try:
                layout = pcm_layout(vault.unseal(item_id, part, dek, row,
                                                 span=(0, min(size, WAV_HEAD_BYTES))), size)
            except ValueError as exc:
                raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                                   f"recording cannot be anonymised: {exc}",
                                   item_id=record.id) from None
        start, length = pick(size)
        data = vault.unseal(item_id, part, dek, row, span=(start, length))
        if layout is not None:
            data = bleep_slice(data, start, layout, spans)
        vault.record_event(
            actor=user.name, role=user.role.value, action="read", purpose=chosen.name,
            item_ids=[item_id],
            detail={"part": part, "anonymised": anonymised, "range": [start, start + len(data)]},
        )
        content_type = "audio/wav" if part == PART_PLAYBACK else str(row.content_type)
        return ContentSlice(Content(item_id, part, data, content_type, chosen.name), start, size)

    def _has_playback(self, item_id: str) -> bool:
        try:
            self._vault.part_row(item_id, PART_PLAYBACK)
        except InvalidRequest:
            return False
        return True

    def _bleep_spans(self, record: ItemRecord) -> list[tuple[float, float]]:
        """The times to bleep in a call's audio, from its anonymised view; refused when
        the transcript cannot say where the names and numbers are."""
        if record.transcript_status is not TranscriptStatus.DONE:
            raise AccessDenied(
                ErrorCode.PURPOSE_NOT_CARRIED,
                "anonymised audio needs the transcript to find what to bleep; "
                f"transcript is {record.transcript_status.value}",
                item_id=record.id,
            )
        kept = self.views.view_of(record)
        if (kept.transcript or {}).get("low_confidence"):
            # Bleeping follows the recognised words: where recognition is unsure, the
            # names and numbers it missed would reach the trainer unbleeped.
            raise AccessDenied(
                ErrorCode.PURPOSE_NOT_CARRIED,
                "anonymised audio needs a transcript sure enough to find what to bleep; "
                "this one is marked low confidence", item_id=record.id)
        return kept.bleep_spans()

    def _anonymise(self, record: ItemRecord, part: str, data: bytes) -> tuple[bytes, str]:
        """The anonymised form of a part: redacted text, or audio with PII bleeped."""
        vault = self._vault
        if part == PART_ORIGINAL and record.channel is Channel.EMAIL:
            return (str(self.views.view_of(record).email_text).encode(),
                    "text/plain; charset=utf-8")
        if part == PART_TRANSCRIPT:
            return json_bytes(self.views.view_of(record).transcript), "application/json"
        if part in (PART_ORIGINAL, PART_PLAYBACK) and record.channel is Channel.CALL:
            if part == PART_ORIGINAL and self._has_playback(record.id):
                # The original may be MP3 or GSM: bleep the derived PCM WAV instead.
                data = vault.unseal_for_system(record.id, PART_PLAYBACK)
            spans = self._bleep_spans(record)
            try:
                return bleep_wav(data, spans), "audio/wav"
            except (ValueError, EOFError) as exc:
                raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                                   f"recording cannot be anonymised: {exc}",
                                   item_id=record.id) from None
        raise AccessDenied(ErrorCode.PURPOSE_NOT_CARRIED,
                           f"part {part!r} has no anonymised form", item_id=record.id)

    def get_item(self, user: User, item_id: str) -> ItemView:
        """Metadata and sealed details of an item, for a user who may read it; audited."""
        vault = self._vault
        record = vault.record(item_id)
        chosen = self.authorize(user, record)
        details = json.loads(vault.unseal(item_id, PART_DETAILS, vault.dek(item_id, chosen.name)))
        notes = self.annotations(item_id, chosen.name)
        anonymised = chosen.anonymised and user.role not in RESTRICTED_READERS
        parties = [p.as_dict() for p in record.parties]
        disclosures = self.disclosures_of(item_id)
        if anonymised:
            view = AnonymisedView(record.parties, record.language)
            kept = self.views.view_of(record)
            details, notes, parties = kept.details, view.annotations(notes), kept.parties
            disclosures = []
        vault.record_event(actor=user.name, role=user.role.value, action="read_metadata",
                           purpose=chosen.name, item_ids=[item_id],
                           detail={"anonymised": anonymised})
        return ItemView(record, details, chosen.name, annotations=notes,
                        disclosures=disclosures, anonymised=anonymised, parties=parties)

    def annotations(self, item_id: str, purpose: str | None = None) -> list[dict[str, Any]]:
        """Rectification notes (Art. 16) of an item, unsealed."""
        vault = self._vault
        with vault.catalog.read() as conn:
            rows = conn.execute(
                sa.select(cat.item_annotations).where(cat.item_annotations.c.item_id == item_id)
                .order_by(cat.item_annotations.c.id)
            ).all()
        if not rows:
            return []
        dek = vault.dek(item_id, purpose)
        return [
            {"id": r.id, "author": r.author, "created_at": r.created_at.isoformat(),
             "text": vault.unseal(item_id, r.part, dek).decode()}
            for r in rows
        ]

    def disclosures_of(self, item_id: str) -> list[dict[str, Any]]:
        with self._vault.catalog.read() as conn:
            rows = conn.execute(
                sa.select(cat.disclosures).where(cat.disclosures.c.item_id == item_id)
                .order_by(cat.disclosures.c.id)
            ).all()
        return [
            {"recipient": r.recipient, "legal_basis": r.legal_basis,
             "disclosed_at": r.disclosed_at.isoformat(), "reference": r.reference}
            for r in rows
        ]

    # -- search -------------------------------------------------------------------------------

    def search(self, user: User, query: SearchQuery) -> SearchPage:
        """Search within what the user's role may see; snippets anonymised for trainers.

        A search through anonymised purposes only matches the index's redacted copy
        of the text, and every hit is shown through the item's anonymised view.

        The index is derived and may lag (a failed update leaves an item dirty), so
        every hit is checked against the catalog before anything of it is shown.
        """
        config = self._config
        if user.role not in READ_ROLES:
            raise AccessDenied(ErrorCode.WRONG_ROLE, f"role {user.role.value} may not search")
        allowed = (None if user.role in config.all_purpose_roles
                   else config.purposes_for_role(user.role))
        wanted = query.purposes
        if wanted is not None:
            if allowed is not None and not wanted <= allowed:
                raise AccessDenied(ErrorCode.PURPOSE_NOT_HELD,
                                   f"role {user.role.value} does not hold "
                                   f"{sorted(wanted - allowed)}")
            allowed = wanted
        anonymised = False
        if allowed is not None and user.role not in RESTRICTED_READERS:
            read_anonymised = frozenset(n for n in allowed if config.purpose(n).anonymised)
            if read_anonymised == allowed:
                anonymised = bool(allowed)
            else:
                # A role that reads some purposes in full and others anonymised searches the
                # full text of the former only; it names an anonymised purpose to search it.
                allowed = allowed - read_anonymised
        if anonymised and (query.party or query.any_party or query.subject or query.mention
                           or looks_identifying(query.text)):
            raise AccessDenied(ErrorCode.WRONG_ROLE,
                               "anonymised access cannot search for a person "
                               "(no party, subject, address or number terms)")
        scoped = SearchQuery(
            text=query.text, purposes=allowed,
            include_restricted=user.role in RESTRICTED_READERS and query.include_restricted,
            channel=query.channel, direction=query.direction, party=query.party,
            subject=query.subject, mention=query.mention, anonymised=anonymised,
            since=query.since, until=query.until, any_party=query.any_party,
            item_ids=query.item_ids, exclude_ids=query.exclude_ids,
            limit=max(1, min(query.limit, MAX_SEARCH_LIMIT)), offset=max(0, query.offset),
        )
        try:
            result = self._index.search(scoped)
        except SearchIndexError as exc:
            raise TemporaryFailure("search", reason=str(exc)) from exc
        records = self._vault.records_of([h.item_id for h in result.hits])
        now = now_utc()
        phrases = parse_query(query.text) if anonymised else []
        visible = []
        parties: dict[str, list[dict[str, Any]]] = {}
        for hit in result.hits:
            record = records.get(hit.item_id)
            if record is None or not self._may_see(user, record, allowed, now,
                                                   include_restricted=scoped.include_restricted):
                continue
            if anonymised:
                view = AnonymisedView(record.parties, record.language)
                hit = dataclasses.replace(hit, snippet=view.snippet(hit.snippet, phrases),
                                          title=view.text(hit.title))
                parties[hit.item_id] = view.parties()
            else:
                parties[hit.item_id] = [p.as_dict() for p in record.parties]
            visible.append(hit)
        hidden = len(result.hits) - len(visible)
        result = SearchResult(max(0, result.total - hidden), tuple(visible),
                              result.total_is_lower_bound)
        if hidden:
            log.info("search: %d hit(s) the index still showed were withheld", hidden)
        self._vault.record_event(
            actor=user.name, role=user.role.value, action="search",
            detail={"q": query.text, "total": result.total, "anonymised": anonymised,
                    **_filters_used(query)},
            item_ids=[h.item_id for h in result.hits],
        )
        return SearchPage(result, records, parties)

    @staticmethod
    def _may_see(
        user: User, record: ItemRecord, allowed: frozenset[str] | None, now: datetime,
        *, include_restricted: bool,
    ) -> bool:
        """The catalog's word on whether a search hit may be shown to this user."""
        if record.restricted and not include_restricted:
            return False
        live = live_purposes(record, user.role, now)
        return bool(live) if allowed is None else bool(live & allowed)


def _filters_used(query: SearchQuery) -> dict[str, Any]:
    """The search's filters as its audit event records them (who looked for whom, and
    how): the party, subject and agent identifiers asked for are what a privacy officer
    looks for afterwards; id sets from the catalog (reviewed, in a queue) are counted."""
    used: dict[str, Any] = {k: v for k, v in (
        ("channel", query.channel), ("direction", query.direction), ("party", query.party),
        ("subject", query.subject), ("mention", query.mention),
        ("since", query.since.isoformat() if query.since else None),
        ("until", query.until.isoformat() if query.until else None)) if v}
    if query.purposes is not None:
        used["purposes"] = sorted(query.purposes)
    if query.any_party:
        used["any_party"] = list(query.any_party)
    if query.item_ids is not None:
        used["among_items"] = len(query.item_ids)
    if query.exclude_ids:
        used["excluding_items"] = len(query.exclude_ids)
    return {"filters": used} if used else {}
