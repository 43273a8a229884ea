"""A SIP header of the recording INVITE decides a call's language (issue 14): the PBX knows
which queue or IVR choice the caller took, and says so in ``X-Language`` or
``Accept-Language``; the rule naming that header beats any trying of models."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

from archive.config import DEFAULT_CONFIG_TOML, Role, load_config
from archive.errors import ConfigError
from archive.language import SIP_HEADERS_DETAIL, LanguageRule, decide_language
from archive.model import Channel, Direction, NewItem
from archive.users import User
from tests.conftest import TEST_CONFIG, make_archive
from tests.ingest.sip.client import Party, SiprecClient, metadata_xml, play, tone_packets
from tests.ingest.sip.conftest import TEST_SIP_CONFIG, read_call, run_sip

JAN = Party("p1", "sip:+31201234567@carrier.example.net", "Jan Jansen", "s1", "1")
AGENT = Party("p2", "sip:agent7@pbx.example.com", "Agent Seven", "s2", "2")
RULES = (
    LanguageRule(language="nl", sip_header="X-Language"),
    LanguageRule(language="fr", sip_header="X-Language", sip_header_value="french"),
    LanguageRule(language="en", sip_header="Accept-Language"),
)


def _call(headers: dict[str, str]) -> NewItem:
    from datetime import UTC, datetime

    return NewItem(channel=Channel.CALL, original=b"x", content_type="audio/wav", source="t",
                   started_at=datetime.now(UTC), direction=Direction.INBOUND,
                   details={SIP_HEADERS_DETAIL: headers})


def test_the_header_value_names_the_language_by_its_first_tag() -> None:
    assert decide_language(RULES, _call({"x-language": "nl"})) == "nl"
    assert decide_language(RULES, _call({"x-language": "NL-be"})) == "nl"
    assert decide_language(RULES, _call({"x-language": "French"})) == "fr"
    assert decide_language(RULES, _call({"accept-language": "en-GB, nl;q=0.5"})) == "en"
    assert decide_language(RULES, _call({"accept-language": "nl, en;q=0.5"})) is None
    assert decide_language(RULES, _call({"x-language": "nlx"})) is None  # not a region of nl
    assert decide_language(RULES, _call({})) is None


def test_a_bad_header_rule_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="'X Language' is not a SIP header name"):
        LanguageRule(language="nl", sip_header="X Language")
    with pytest.raises(ValidationError, match="sip_header_value is given without"):
        LanguageRule(language="nl", sip_header_value="dutch")
    (tmp_path / "archive.toml").write_text(
        DEFAULT_CONFIG_TOML + '\n[[language.rules]]\nlanguage = "nl"\nsip_header = "X:Lang"\n')
    with pytest.raises(ConfigError, match="'X:Lang' is not a SIP header name"):
        load_config(tmp_path)


def _record(tmp_path: Path, extra: Sequence[str]) -> tuple[str | None, dict[str, object]]:
    """Record one SIPREC call with ``extra`` INVITE headers; (its language, its details)."""
    config = TEST_CONFIG.model_copy(update={"language_rules": RULES})
    arc = make_archive(tmp_path / "data", config=config)
    try:
        for sip in run_sip(arc, TEST_SIP_CONFIG):
            client = SiprecClient(sip.port)
            dialog, resp = client.invite(["1"], metadata_xml("sess-lang", [JAN, AGENT]),
                                         extra=("Require: siprec", *extra))
            assert resp.status == 200, resp.reason
            play(dialog.ports[0], tone_packets(0.3))
            assert client.bye(dialog).status == 200
            client.close()
            [item_id] = sip.handle.archived
            _, details = read_call(arc, item_id)
            # Trainers never see the INVITE's headers, as they see no e-mail headers.
            trainer = arc.get_item(User("t", Role.TRAINER), item_id).details
            assert SIP_HEADERS_DETAIL not in trainer
            return arc.record(item_id).language, details
        raise AssertionError("the SIP server did not start")
    finally:
        arc.close()


def test_a_siprec_call_takes_its_language_from_the_invite_header(tmp_path: Path) -> None:
    language, details = _record(tmp_path, ["X-Language: nl-BE", "X-Customer-Id: 12345"])
    assert language == "nl"
    # Only the headers a rule reads are kept with the call, nothing else of the INVITE.
    assert details[SIP_HEADERS_DETAIL] == {"x-language": "nl-BE"}


def test_accept_language_decides_too_and_no_header_decides_nothing(tmp_path: Path) -> None:
    assert _record(tmp_path / "a", ["Accept-Language: en-US, fr;q=0.4"])[0] == "en"
    language, details = _record(tmp_path / "b", [])
    assert language is None  # left to the models, or language_unknown
    assert details[SIP_HEADERS_DETAIL] == {}
