"""Finding a data subject's items, and what every right reports about them.

A subject's items are those where one of their identifiers is a party (the
catalog's subject identifiers) plus those whose content mentions one (the
search index). Every action is audited with the subject's normalised
identifier, so ``audit list --subject`` finds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa

from archive import catalog as cat
from archive.config import ArchiveConfig, Role
from archive.errors import ErrorCode, InvalidRequest, SearchIndexError
from archive.index import SearchQuery, hit_pages
from archive.model import AddressKind, ItemRecord, Party, PartyRole
from archive.parties import normalise_email, normalise_identifier, search_terms
from archive.service import Archive

MENTION_PAGE_ITEMS: Final = 500
PRIVACY: Final = Role.PRIVACY.value
#: Why an item that only mentions the subject was kept: it is another subject's.
OTHER_SUBJECTS: Final = "other_subjects"


class MatchKind(StrEnum):
    PARTY = "party"
    MENTION = "mention"


@dataclass(frozen=True, slots=True)
class SubjectMatch:
    #: The first identifier given, normalised: what audit events carry as ``subject``.
    identifier: str
    kind: AddressKind
    party_items: tuple[str, ...]
    mention_items: tuple[str, ...]
    #: Every identifier given, normalised (a subject may give several).
    identifiers: tuple[str, ...] = ()

    @property
    def item_ids(self) -> list[str]:
        return sorted(set(self.party_items) | set(self.mention_items))

    def match_of(self, item_id: str) -> list[str]:
        out = []
        if item_id in self.party_items:
            out.append(MatchKind.PARTY.value)
        if item_id in self.mention_items:
            out.append(MatchKind.MENTION.value)
        return out


Identifiers = str | Sequence[str]


def variants(archive: Archive, kind: AddressKind, identifier: str) -> list[str]:
    """The written forms an identifier is searched (and recognised) by."""
    if kind is AddressKind.PHONE:
        return search_terms(archive.config, Party(PartyRole.PARTICIPANT, identifier, kind))
    return [identifier]


def _mentions(archive: Archive, kind: AddressKind, identifier: str) -> list[str]:
    """Items whose text mentions the identifier: by the index's ``mentions`` field (every
    written form of a number or address, normalised when the document was built) and,
    for whatever that field does not cover, by its variants as phrases."""
    queries = [SearchQuery(text='"' + variant.replace('"', " ") + '"', include_restricted=True)
               for variant in variants(archive, kind, identifier)]
    if kind in (AddressKind.PHONE, AddressKind.EMAIL):
        queries.append(SearchQuery(mention=identifier, include_restricted=True))
    found: list[str] = []
    try:
        for query in queries:
            for ids in hit_pages(archive.index, query, MENTION_PAGE_ITEMS):
                found.extend(ids)
    except SearchIndexError as exc:
        raise InvalidRequest(f"subject lookup failed: {exc}",
                             code=ErrorCode.UNAVAILABLE) from exc
    return found


def parse_identifier(config: ArchiveConfig, raw: str) -> tuple[AddressKind, str]:
    """An identifier a data subject gave, normalised; InvalidRequest when it is none.

    Accepted: an e-mail address, a phone number (read in ``default_region``), a
    SIP URI, or a customer number of a configured form. Anything else (a year,
    a surname) would find whatever mentions it, so it is refused by name.
    """
    value = raw.strip()
    kind, norm = normalise_identifier(config, value)
    if kind is AddressKind.EMAIL:
        valid = normalise_email(value) is not None and "." in norm.rpartition("@")[2]
    elif kind is AddressKind.SIP:
        user, _, host = norm.partition(":")[2].partition("@")
        valid = bool(user and host)
    elif kind is AddressKind.CUSTOMER_NUMBER:
        valid = config.is_customer_number(value)
    else:
        valid = kind is AddressKind.PHONE
    if valid:
        return kind, norm
    forms = (" or ".join(repr(p) for p in config.customer_number_patterns)
             or "none configured")
    raise InvalidRequest(
        f"{raw!r} is not a data-subject identifier: give an e-mail address, a phone number "
        f"(read in region {config.default_region}), a SIP URI (sip:user@host) or a customer "
        f"number (matching {forms})")


def find_subject(archive: Archive, identifier: Identifiers, *,
                 mentions: bool = True) -> SubjectMatch:
    """Items of a data subject, by any of their identifiers (e-mail, phone, customer number).

    Items where an identifier is a party, plus (``mentions``) items whose
    content mentions one.
    """
    raw = [identifier] if isinstance(identifier, str) else list(identifier)
    raw = [r.strip() for r in raw if r and r.strip()]
    if not raw:
        raise InvalidRequest("an identifier is required")
    normalised = [parse_identifier(archive.config, r) for r in raw]
    forms: set[str] = set()
    for r, (_kind, norm) in zip(raw, normalised, strict=True):
        forms |= {norm, r, r.lower()}
    with archive.catalog.read() as conn:
        party = sorted({str(r[0]) for r in conn.execute(
            sa.select(cat.subjects.c.item_id).where(cat.subjects.c.identifier.in_(forms)))})
    mention: list[str] = []
    if mentions:
        hits: set[str] = set()
        for kind, norm in normalised:
            hits |= set(_mentions(archive, kind, norm))
        if hits:
            with archive.catalog.read() as conn:
                live = {str(r[0]) for r in conn.execute(
                    sa.select(cat.items.c.id).where(cat.items.c.id.in_(sorted(hits))))}
            mention = sorted(live)
    kind, first = normalised[0]
    return SubjectMatch(first, kind, tuple(party), tuple(mention),
                        tuple(dict.fromkeys(n for _k, n in normalised)))


def disclosures_by_item(archive: Archive, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if not ids:
        return out
    with archive.catalog.read() as conn:
        for r in conn.execute(sa.select(cat.disclosures)
                              .where(cat.disclosures.c.item_id.in_(list(ids)))
                              .order_by(cat.disclosures.c.id)):
            out.setdefault(r.item_id, []).append({
                "id": r.id, "recipient": r.recipient, "legal_basis": r.legal_basis,
                "disclosed_at": r.disclosed_at.isoformat(), "reference": r.reference,
                "recorded_by": r.recorded_by})
    return out


def recipients_to_notify(archive: Archive, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Recipients the items were disclosed to (Art. 19: tell them of changes)."""
    grouped: dict[str, dict[str, Any]] = {}
    for item_id, rows in disclosures_by_item(archive, ids).items():
        for d in rows:
            entry = grouped.setdefault(d["recipient"], {
                "recipient": d["recipient"], "item_ids": [], "disclosures": []})
            if item_id not in entry["item_ids"]:
                entry["item_ids"].append(item_id)
            entry["disclosures"].append({k: d[k] for k in
                                         ("legal_basis", "disclosed_at", "reference")})
    return [grouped[k] for k in sorted(grouped)]


def belongs_to_others(archive: Archive, match: SubjectMatch, record: ItemRecord) -> bool:
    """The item only mentions the subject while another data subject is a party.

    Such an item is someone else's communication: erasure, objection and
    consent withdrawal keep it (listed as ``other_subjects``) unless the officer
    explicitly asks otherwise.
    """
    if record.id in match.party_items:
        return False
    mine = set(match.identifiers or (match.identifier,))
    return any(i not in mine for i in archive.vault.subject_ids(record.parties))


def item_summary(record: ItemRecord) -> dict[str, Any]:
    return {"item_id": record.id, "channel": record.channel.value,
            "started_at": record.started_at.isoformat()}


def subject_overview(archive: Archive, identifier: Identifiers, *, actor: str,
                     role: str = PRIVACY) -> dict[str, Any]:
    """What ``subjects find`` shows: the items' metadata (no content); audited."""
    match = find_subject(archive, identifier)
    records = archive.vault.records_of(match.item_ids)
    items = [
        {**item_summary(r), "match": match.match_of(r.id), "direction": r.direction.value,
         "purposes": sorted(r.purpose_names), "restricted": r.restricted, "held": r.held}
        for r in sorted(records.values(), key=lambda r: r.started_at)
    ]
    archive.vault.record_event(actor=actor, role=role, action="subject_lookup",
                         item_ids=match.item_ids, subject=match.identifier)
    return {"subject": match.identifier, "kind": match.kind.value, "items": items}
