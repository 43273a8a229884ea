"""Which language an item is in, by the operator's rules (``[[language.rules]]``).

A rule is the operator's knowledge (the Dutch queue, the Belgian French number,
the ``factures@`` mailbox, the ``X-Language`` header the PBX sets on the
recording INVITE) and beats any guess: rules are tried in order and
the first that matches decides. Items no rule decides keep the language their
ingester detected (e-mail text), or none, and the transcriber then compares
models or marks the call ``language_unknown``: a transcript in the wrong
language is worse than none, since trainers' audio is bleeped from it.

An e-mail no rule decides gets the language of its subject and body from lingua
(``detect_text_language``), chosen among the rules' languages and
``TEXT_LANGUAGES`` only, so a short Dutch mail is not called Afrikaans.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from archive.model import AddressKind, Channel, NewItem, PartyRole

if TYPE_CHECKING:
    from lingua import LanguageDetector

#: ``nl``, ``fr``, ``en``, ``pt-br``: an ISO 639 code, optionally with a region.
LANGUAGE_CODE: Final = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})?")
#: Where a call's PBX queue name is found in its details (the sidecar's ``queue``).
QUEUE_DETAIL: Final = "queue"
#: Where a SIPREC call keeps the headers of its INVITE that a rule names (``sip_header``),
#: as {lower-case name: value}.
SIP_HEADERS_DETAIL: Final = "sip_headers"
#: A SIP header name (RFC 3261 ``token``).
_HEADER_NAME: Final = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
#: Languages an e-mail may be detected in besides those the rules name (the Benelux three
#: and German).
TEXT_LANGUAGES: Final = ("nl", "fr", "en", "de")
#: Text the detector reads: the start of the subject and body is enough, and bounded. About
#: 150 words; lingua's cost grows with the sample (2.4 ms at 4000 characters, 0.6 ms at 1000,
#: on the ingest path of every e-mail) while its accuracy on the Benelux languages is already
#: at its ceiling at sentence length.
TEXT_SAMPLE_CHARS: Final = 1000
#: The detector answers only when the best language leads the next by this much ...
TEXT_MIN_RELATIVE_DISTANCE: Final = 0.05
#: ... and only for text at least this long (a one-word mail is anyone's guess).
TEXT_MIN_CHARS: Final = 20
_TEXT_SECTIONS: Final = ("subject", "body")


def language_code(value: str) -> str:
    """A language code in its one spelling (lower case), or ValueError naming it."""
    code = value.strip().lower().replace("_", "-")
    if not LANGUAGE_CODE.fullmatch(code):
        raise ValueError(f"{value!r} is not a language code (like 'nl', 'fr', 'en')")
    return code


class LanguageRule(BaseModel):
    """Items matching every given condition are in ``language``; absent conditions match all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    language: str
    channel: Channel | None = None
    #: The PBX queue the call came through (exact, ignoring case).
    queue: str | None = None
    #: The called party's E.164 number starts with this prefix (the dialled number).
    dialled_number_prefix: str | None = None
    #: Any party's E.164 number starts with this prefix.
    party_number_prefix: str | None = None
    #: Any party's exact e-mail address (a monitored mailbox).
    mailbox: str | None = None
    #: A header of the SIPREC INVITE the PBX sets per call (``X-Language``,
    #: ``Accept-Language``) ...
    sip_header: str | None = None
    #: ... naming this language: the header's first language tag, ignoring case and
    #: ``;q=`` weights, is this value or a region of it (``nl`` matches ``nl-BE, fr;q=0.5``).
    #: Default: the rule's ``language``.
    sip_header_value: str | None = None

    @field_validator("language")
    @classmethod
    def _code(cls, value: str) -> str:
        return language_code(value)

    @field_validator("sip_header")
    @classmethod
    def _header(cls, value: str | None) -> str | None:
        if value is not None and not _HEADER_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a SIP header name (like 'X-Language')")
        return value

    @model_validator(mode="after")
    def _value_needs_header(self) -> LanguageRule:
        if self.sip_header_value is not None and self.sip_header is None:
            raise ValueError("sip_header_value is given without the sip_header it is read from")
        return self

    def _header_matches(self, item: NewItem) -> bool:
        headers = item.details.get(SIP_HEADERS_DETAIL)
        value = headers.get((self.sip_header or "").lower()) if isinstance(headers, dict) else None
        if not isinstance(value, str):
            return False
        first = value.split(",")[0].split(";")[0].strip().lower()
        wanted = (self.sip_header_value or self.language).strip().lower()
        return first == wanted or first.startswith(wanted + "-")

    def matches(self, item: NewItem) -> bool:
        if self.channel is not None and item.channel is not self.channel:
            return False
        if self.queue is not None:
            queue = item.details.get(QUEUE_DETAIL)
            if not isinstance(queue, str) or queue.strip().lower() != self.queue.lower():
                return False
        phones = [p for p in item.parties if p.kind is AddressKind.PHONE]
        if self.dialled_number_prefix is not None:
            called = [p.address for p in phones if p.role in (PartyRole.CALLEE, PartyRole.TO)]
            if not any(n.startswith(self.dialled_number_prefix) for n in called):
                return False
        if self.party_number_prefix is not None and not any(
            p.address.startswith(self.party_number_prefix) for p in phones
        ):
            return False
        if self.sip_header is not None and not self._header_matches(item):
            return False
        if self.mailbox is not None:
            mailbox = self.mailbox.lower()
            if not any(p.kind is AddressKind.EMAIL and p.address.lower() == mailbox
                       for p in item.parties):
                return False
        return True


def decide_language(rules: Sequence[LanguageRule], item: NewItem) -> str | None:
    """The language of the first rule ``item`` matches, or None when no rule decides."""
    for rule in rules:
        if rule.matches(item):
            return rule.language
    return None


def sip_headers(rules: Sequence[LanguageRule]) -> tuple[str, ...]:
    """The SIP headers the rules read (lower case): the only ones a call keeps."""
    return tuple(dict.fromkeys(r.sip_header.lower() for r in rules if r.sip_header))


def text_languages(rules: Sequence[LanguageRule]) -> tuple[str, ...]:
    """The languages an e-mail may be detected in: the rules' and ``TEXT_LANGUAGES``."""
    named = [rule.language.partition("-")[0] for rule in rules]
    return tuple(dict.fromkeys([*TEXT_LANGUAGES, *named]))


_DETECTORS: dict[frozenset[str], LanguageDetector] = {}
_DETECTORS_LOCK = threading.Lock()


def _detector(languages: frozenset[str]) -> LanguageDetector | None:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    with _DETECTORS_LOCK:
        detector = _DETECTORS.get(languages)
        if detector is None:
            codes = []
            for code in sorted(languages):
                try:
                    codes.append(IsoCode639_1.from_str(code))
                except ValueError:  # a code lingua does not know (say, a test's "xx")
                    continue
            if len(codes) < 2:
                return None
            # Low-accuracy mode (trigrams only): ~12 MB and 0.3 s to load per process
            # instead of ~140 MB and 4 s, and as right on mails of a sentence or more.
            detector = _DETECTORS[languages] = (
                LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
                .with_minimum_relative_distance(TEXT_MIN_RELATIVE_DISTANCE)
                .with_low_accuracy_mode().build())
        return detector


def detect_text_language(text: str, languages: Iterable[str]) -> str | None:
    """The language of ``text`` among ``languages`` (ISO 639-1), or None when unclear."""
    sample = text[:TEXT_SAMPLE_CHARS].strip()
    detector = _detector(frozenset(languages)) if len(sample) >= TEXT_MIN_CHARS else None
    if detector is None:
        return None
    found = detector.detect_language_of(sample)
    return None if found is None else found.iso_code_639_1.name.lower()


def email_language(rules: Sequence[LanguageRule], item: NewItem) -> str | None:
    """An e-mail's language from its subject and body; None for calls or unclear text."""
    if item.channel is not Channel.EMAIL:
        return None
    text = "\n".join(s.text for s in item.sections if s.kind in _TEXT_SECTIONS)
    return detect_text_language(text, text_languages(rules))
