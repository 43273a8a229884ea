"""The archive's own configuration file (``DATA_DIR/archive.toml``).

Purposes (lawful basis, retention, roles), tagging rules, and who counts as
internal (the rules that read those settings live in :mod:`archive.parties`).
Deployment settings (ports, backends, secrets) live in the
composition root's ``Settings`` instead.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from archive.errors import ConfigError
from archive.language import LanguageRule
from archive.model import Channel, Direction

CONFIG_FILE_NAME: Final = "archive.toml"


class Role(StrEnum):
    QUALITY = "quality"
    TRAINER = "trainer"
    PRIVACY = "privacy"
    LEGAL = "legal"
    INGEST = "ingest"
    ADMIN = "admin"
    #: Sees its own quality reviews only (``archive.quality``), never content.
    AGENT = "agent"


class LawfulBasis(StrEnum):
    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    LEGITIMATE_INTEREST = "legitimate_interest"
    VITAL_INTEREST = "vital_interest"
    PUBLIC_TASK = "public_task"


class Purpose(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    lawful_basis: LawfulBasis
    retention_days: int = Field(gt=0)
    roles: tuple[Role, ...]
    #: Reads through this purpose are anonymised (PII-redacted text).
    anonymised: bool = False

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    @property
    def stops_on_objection(self) -> bool:
        """Art. 21 / 7(3): objection or consent withdrawal ends this purpose."""
        return self.lawful_basis in (LawfulBasis.LEGITIMATE_INTEREST, LawfulBasis.CONSENT)

    @property
    def blocks_erasure(self) -> bool:
        """Art. 17(3)(b): data kept for a legal obligation is not erased on request."""
        return self.lawful_basis is LawfulBasis.LEGAL_OBLIGATION


class TaggingRule(BaseModel):
    """Items matching every given condition get ``purposes``; absent conditions match all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    purposes: tuple[str, ...]
    channel: Channel | None = None
    direction: Direction | None = None
    #: Any party's e-mail domain (or subdomain of it).
    party_domain: str | None = None
    #: Any party's E.164 number starts with this prefix.
    party_number_prefix: str | None = None
    #: Any internal party's exact e-mail address (a monitored mailbox).
    mailbox: str | None = None


DEFAULT_PURPOSES: Final = (
    Purpose(
        name="quality",
        description="Quality monitoring of customer contact",
        lawful_basis=LawfulBasis.LEGITIMATE_INTEREST,
        retention_days=183,
        roles=(Role.QUALITY,),
    ),
    Purpose(
        name="training",
        description="Training of customer-service agents with anonymised samples",
        lawful_basis=LawfulBasis.LEGITIMATE_INTEREST,
        retention_days=365,
        roles=(Role.TRAINER,),
        anonymised=True,
    ),
    Purpose(
        name="order",
        description="Recording order details: what the customer ordered, changed or cancelled",
        lawful_basis=LawfulBasis.CONTRACT,
        retention_days=730,
        roles=(Role.LEGAL,),
    ),
    Purpose(
        name="legal",
        description="Legal obligations: billing and fiscal records, disclosures to authorities",
        lawful_basis=LawfulBasis.LEGAL_OBLIGATION,
        retention_days=7 * 365,
        roles=(Role.LEGAL,),
    ),
)

#: Ordinary support contact gets quality and training only; order details and legal
#: obligations come from the mailboxes and queues that carry them, never by default.
DEFAULT_RULES: Final = (
    TaggingRule(purposes=("quality", "training")),
    TaggingRule(purposes=("order",), mailbox="orders@example.com"),
    TaggingRule(purposes=("order",), mailbox="sales@example.com"),
    TaggingRule(purposes=("legal",), mailbox="billing@example.com"),
    TaggingRule(purposes=("legal",), channel=Channel.CALL, party_number_prefix="+31205550300"),
)

class PrivacyOffice(BaseModel):
    """What the cover letter of a subject's export says of the controller (Art. 13-15):
    ``[privacy_office]`` in archive.toml; the defaults are placeholders to replace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    contact: str = "privacy@example.com"
    recipients: tuple[str, ...] = (
        "our processors (hosting, telephony) under Art. 28 contracts",
        "authorities where the law obliges us (listed per item when it happened)")
    source: str = "recorded when you e-mailed or called us, or we you"
    supervisory_authority: str = (
        "Autoriteit Persoonsgegevens, Postbus 93374, 2509 AJ Den Haag, "
        "https://autoriteitpersoonsgegevens.nl")
    #: How long a closed request case keeps the person's identifiers and the sealed
    #: notes (``archive.rights.case_retention``); then only its facts remain.
    closed_case_retention_days: int = Field(default=1095, ge=30)


#: The example organisation's customer numbers (``K-1001``).
DEFAULT_CUSTOMER_NUMBER_PATTERN: Final = r"K-\d{4,10}"


class ArchiveConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    organisation: str = "Example Hosting"
    internal_domains: tuple[str, ...] = ("example.com",)
    #: E.164 prefixes (or whole numbers) of the company's own lines and agents.
    internal_numbers: tuple[str, ...] = ()
    internal_sip_domains: tuple[str, ...] = ()
    default_region: str = "NL"
    #: Regular expressions (matched whole, ignoring case) of the company's customer
    #: numbers: the only identifiers besides e-mail addresses, phone numbers and SIP
    #: URIs that a data-subject request may name.
    customer_number_patterns: tuple[str, ...] = (DEFAULT_CUSTOMER_NUMBER_PATTERN,)
    purposes: tuple[Purpose, ...] = DEFAULT_PURPOSES
    rules: tuple[TaggingRule, ...] = DEFAULT_RULES
    #: Which language an item is in (``[[language.rules]]``, first match wins):
    #: ``archive.language``. None by default: calls are then routed by comparing models.
    language_rules: tuple[LanguageRule, ...] = ()
    #: Roles that may read everything, by subject (every read audited).
    all_purpose_roles: tuple[Role, ...] = (Role.PRIVACY,)
    #: Data-subject request deadline (GDPR Art. 12(3): one month).
    request_deadline_days: int = 30
    #: The controller's values the cover letter of an export names.
    privacy_office: PrivacyOffice = PrivacyOffice()

    @field_validator("internal_domains", "internal_sip_domains")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.lower().lstrip("@") for v in value)

    @field_validator("customer_number_patterns")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"customer_number_patterns: {pattern!r}: {exc}") from None
        return value

    def is_customer_number(self, value: str) -> bool:
        """``value`` is, whole, one of the configured customer-number forms."""
        return any(re.fullmatch(p, value, re.IGNORECASE)
                   for p in self.customer_number_patterns)

    def model_post_init(self, _context: object) -> None:
        names = [p.name for p in self.purposes]
        if len(set(names)) != len(names):
            raise ValueError("purpose names must be unique")
        for rule in self.rules:
            unknown = set(rule.purposes) - set(names)
            if unknown:
                raise ValueError(f"tagging rule names unknown purposes {sorted(unknown)}")

    # -- lookups -------------------------------------------------------------

    def purpose(self, name: str) -> Purpose:
        for p in self.purposes:
            if p.name == name:
                return p
        raise KeyError(name)

    def purposes_for_role(self, role: Role) -> frozenset[str]:
        if role in self.all_purpose_roles:
            return frozenset(p.name for p in self.purposes)
        return frozenset(p.name for p in self.purposes if role in p.roles)


def load_config(data_dir: Path) -> ArchiveConfig:
    path = data_dir / CONFIG_FILE_NAME
    if not path.exists():
        return ArchiveConfig()
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    purposes = raw.pop("purposes", None)
    if isinstance(purposes, dict):
        raw["purposes"] = [{"name": name, **spec} for name, spec in purposes.items()]
    tagging = raw.pop("tagging", None)
    if isinstance(tagging, dict) and "rules" in tagging:
        raw["rules"] = tagging["rules"]
    language = raw.pop("language", None)
    if isinstance(language, dict) and "rules" in language:
        raw["language_rules"] = language["rules"]
    try:
        return ArchiveConfig.model_validate(raw)
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


#: The shipped example organisation, which ``commarchive init`` replaces with the operator's.
EXAMPLE_ORGANISATION: Final = "Example Hosting"
EXAMPLE_DOMAIN: Final = "example.com"
EXAMPLE_NUMBER_PREFIX: Final = "+3120555"


def _is_example_domain(domain: str) -> bool:
    return domain == EXAMPLE_DOMAIN or domain.endswith("." + EXAMPLE_DOMAIN)


def example_values(config: ArchiveConfig) -> tuple[str, ...]:
    """The settings of ``config`` that still hold the shipped example's values.

    While they do, the company's real agents and mailboxes are not recognised as
    internal, so they are archived as customers (data subjects); ``serve`` and
    the admin screen warn until the list is empty.
    """
    found: list[str] = []
    if config.organisation == EXAMPLE_ORGANISATION:
        found.append("organisation")
    if any(_is_example_domain(d) for d in config.internal_domains):
        found.append("internal_domains")
    if any(_is_example_domain(d) for d in config.internal_sip_domains):
        found.append("internal_sip_domains")
    if any(n.startswith(EXAMPLE_NUMBER_PREFIX) for n in config.internal_numbers):
        found.append("internal_numbers")
    if any(r.mailbox and _is_example_domain(r.mailbox.rpartition("@")[2])
           for r in config.rules):
        found.append("tagging.rules")
    return tuple(found)


def example_warning(names: tuple[str, ...], where: str) -> str:
    """One line telling the operator which example values ``where`` still holds."""
    return (f"{where} still holds the example organisation's values ({', '.join(names)}): "
            "until they name your company, your own agents and mailboxes are archived as "
            "customers (data subjects); set them there and restart")


DEFAULT_CONFIG_TOML: Final = """\
# commarchive archive configuration. Changes take effect at the next start.
# This is the default policy of a Benelux telecom/hosting company; every
# retention below counts from when the call or e-mail happened. Review it with
# your data protection officer before going live.
organisation = "Example Hosting"
# The company's own e-mail domains; every other address is a data subject.
internal_domains = ["example.com"]
# E.164 prefixes (or whole numbers) of the company's lines and agents.
internal_numbers = ["+3120555"]
internal_sip_domains = ["pbx.example.com"]
default_region = "NL"
# The forms of your customer numbers (regular expressions, matched whole, ignoring
# case). With e-mail addresses, phone numbers and SIP URIs, these are the only
# identifiers a data-subject request may name: a bare name or year is refused.
customer_number_patterns = ['K-\\d{4,10}']
request_deadline_days = 30

# Quality monitoring (Art. 6(1)(f) legitimate interest): reviewers score a sample
# within weeks; six months covers the review cycle, calibration and an agent's
# dispute of a score. Ends on objection (Art. 21).
[purposes.quality]
description = "Quality monitoring of customer contact"
lawful_basis = "legitimate_interest"
retention_days = 183
roles = ["quality"]

# Agent training (legitimate interest), only through the anonymised view (redacted
# text, bleeped audio): one year, one yearly training programme. Ends on objection.
[purposes.training]
description = "Training of customer-service agents with anonymised samples"
lawful_basis = "legitimate_interest"
retention_days = 365
roles = ["trainer"]
anonymised = true

# Order details (Art. 6(1)(b) contract): what a customer ordered, changed or
# cancelled, kept two years, the period in which Dutch practice sees disputes
# about a delivered service raised (Art. 7:23/7:28 BW). Retention runs from the
# conversation, not from the end of the contract: lengthen it if your contracts
# run longer. Objection does not end it; erasure on request does.
[purposes.order]
description = "Recording order details: what the customer ordered, changed or cancelled"
lawful_basis = "contract"
retention_days = 730
roles = ["legal"]

# Legal obligations (Art. 6(1)(c)): billing and payment records under the fiscal
# retention duty, seven years (Art. 52 AWR, NL; Belgium requires ten years for
# accounting records since 2023 (Art. III.88 WER): set 3650 for a Belgian entity),
# and disclosures to authorities. Blocks erasure on request (Art. 17(3)(b)).
[purposes.legal]
description = "Legal obligations: billing and fiscal records, disclosures to authorities"
lawful_basis = "legal_obligation"
retention_days = 2555
roles = ["legal"]

# Tagging rules: an item gets the purposes of every rule it matches.
# Conditions: channel, direction, party_domain, party_number_prefix, mailbox.
# Ordinary support mail and calls get quality and training only; order details
# and legal obligations come from the mailboxes and queues that carry them.
[[tagging.rules]]
purposes = ["quality", "training"]

# The orders and sales mailboxes: order details.
[[tagging.rules]]
purposes = ["order"]
mailbox = "orders@example.com"

[[tagging.rules]]
purposes = ["order"]
mailbox = "sales@example.com"

# Billing: invoices and payment arrangements, by mail and on the billing queue.
[[tagging.rules]]
purposes = ["legal"]
mailbox = "billing@example.com"

[[tagging.rules]]
purposes = ["legal"]
channel = "call"
party_number_prefix = "+31205550300"

# Language rules: the first matching rule decides an item's language, which
# picks the transcription model (commarchive models add LANG ZIP). Conditions:
# channel, queue (the PBX sidecar's queue), dialled_number_prefix,
# party_number_prefix, mailbox, sip_header (a header of the SIPREC INVITE whose
# first language tag is the rule's language, or sip_header_value; e.g.
# sip_header = "X-Language"). A call no rule decides is tried on every
# configured model; without a clear winner it is marked language_unknown and
# gets no transcript (and trainers get no audio of it). For example:
# [[language.rules]]
# language = "fr"
# dialled_number_prefix = "+3225550"

# What the cover letter of a data subject's export tells them (Art. 13-15), beside
# the purposes above; set your own (the defaults are these placeholders):
# [privacy_office]
# contact = "privacy@example.com"
# recipients = ["our processors (hosting, telephony) under Art. 28 contracts"]
# source = "recorded when you e-mailed or called us, or we you"
# supervisory_authority = "Autoriteit Persoonsgegevens, Postbus 93374, 2509 AJ Den Haag"
# Closed request cases keep the person's identifiers and notes this long after
# closing (at least 30 days); then the sweep leaves only the facts (kind, dates,
# outcome, who handled it):
# closed_case_retention_days = 1095
"""
