"""Which purposes a new item gets (who its data subjects are: :mod:`archive.parties`)."""

from __future__ import annotations

from datetime import datetime

from archive.config import ArchiveConfig, TaggingRule
from archive.model import AddressKind, NewItem, PurposeTag
from archive.parties import is_internal_address


def _matches(rule: TaggingRule, item: NewItem, config: ArchiveConfig) -> bool:
    if rule.channel is not None and item.channel is not rule.channel:
        return False
    if rule.direction is not None and item.direction is not rule.direction:
        return False
    emails = [p.address.lower() for p in item.parties if p.kind is AddressKind.EMAIL]
    if rule.party_domain is not None:
        dom = rule.party_domain.lower().lstrip("@")
        if not any(a.rpartition("@")[2] == dom or a.endswith("." + dom) for a in emails):
            return False
    if rule.party_number_prefix is not None:
        numbers = [p.address for p in item.parties if p.kind is AddressKind.PHONE]
        if not any(n.startswith(rule.party_number_prefix) for n in numbers):
            return False
    if rule.mailbox is not None:
        mailbox = rule.mailbox.lower()
        if not any(a == mailbox and is_internal_address(config, a) for a in emails):
            return False
    return True


def decide_purposes(config: ArchiveConfig, item: NewItem, now: datetime) -> list[PurposeTag]:
    """Union of the purposes of every matching rule, each with its own retention end.

    Retention runs from when the communication happened (never from a future
    date a sender claims).
    """
    names: list[str] = []
    for rule in config.rules:
        if _matches(rule, item, config):
            names.extend(p for p in rule.purposes if p not in names)
    base = min(item.started_at, now)
    return [PurposeTag(n, base + config.purpose(n).retention) for n in names]
