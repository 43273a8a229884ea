"""SIPREC server settings (ingest.sip.config): a frozen value whose defaults others read."""

from __future__ import annotations

import dataclasses

import pytest

from ingest.sip.config import SipConfig


def test_defaults_are_readable_as_dataclass_fields() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(SipConfig)}
    assert defaults["host"] == "127.0.0.1" and defaults["port"] == 5060
    assert defaults["allowlist"] == ("127.0.0.0/8", "::1/128")
    assert defaults["rtp_port_range"] == (20000, 40000)
    assert defaults["bye_archive_timeout_s"] == 10.0 and defaults["answer_delay_s"] == 0.0
    assert all(f.default is not dataclasses.MISSING for f in dataclasses.fields(SipConfig))


def test_the_config_is_frozen() -> None:
    config = SipConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.port = 5080  # type: ignore[misc]
    assert not hasattr(config, "__dict__")  # slots


@pytest.mark.parametrize(
    ("host", "advertise", "contact"),
    [
        ("127.0.0.1", None, "127.0.0.1"),
        ("192.0.2.7", None, "192.0.2.7"),
        ("0.0.0.0", None, "127.0.0.1"),  # a wildcard is not an address anyone can reach
        ("::", None, "127.0.0.1"),
        ("0.0.0.0", "srs.example.com", "srs.example.com"),
    ],
)
def test_contact_host_is_the_advertised_address_or_a_reachable_bind_address(
    host: str, advertise: str | None, contact: str
) -> None:
    assert SipConfig(host=host, advertise=advertise).contact_host == contact
