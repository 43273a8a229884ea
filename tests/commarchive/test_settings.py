"""commarchive.settings: nested groups that keep every documented variable and flag working."""

from __future__ import annotations

import dataclasses
import inspect
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from commarchive.server import sip_config, smtp_config
from commarchive.settings import Settings, env_var_name
from ingest.email.config import SmtpConfig
from ingest.sip.config import SipConfig
from ingest.transcription.worker import TranscriptionWorker, backfill


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: the runner's own COMMARCHIVE_* variables stay out."""
    for name in list(os.environ):
        if name.upper().startswith("COMMARCHIVE_"):
            monkeypatch.delenv(name)


def setting(settings: Settings, path: str) -> Any:
    value: Any = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


#: Every variable the README documented before the settings were nested: (variable,
#: value, setting it sets, the value it must have).
FLAT_NAMES: list[tuple[str, str, str, Any]] = [
    ("COMMARCHIVE_DATA_DIR", "/srv/archive", "data_dir", Path("/srv/archive")),
    ("COMMARCHIVE_HTTP", "0.0.0.0:8080", "http", "0.0.0.0:8080"),
    ("COMMARCHIVE_SMTP", "0.0.0.0:2525", "smtp.listen", "0.0.0.0:2525"),
    ("COMMARCHIVE_SMTP_ALLOW", '["10.0.0.0/8"]', "smtp.allow", ["10.0.0.0/8"]),
    ("COMMARCHIVE_SMTP_TLS_CERT", "/etc/tls/cert.pem", "smtp.tls_cert", Path("/etc/tls/cert.pem")),
    ("COMMARCHIVE_SMTP_TLS_KEY", "/etc/tls/key.pem", "smtp.tls_key", Path("/etc/tls/key.pem")),
    ("COMMARCHIVE_SMTP_REQUIRE_TLS", "true", "smtp.require_tls", True),
    ("COMMARCHIVE_SMTP_REQUIRE_AUTH", "true", "smtp.require_auth", True),
    ("COMMARCHIVE_SMTP_MAX_MESSAGE_BYTES", "1000", "smtp.max_message_bytes", 1000),
    ("COMMARCHIVE_SMTP_MAX_RECIPIENTS", "5", "smtp.max_recipients", 5),
    ("COMMARCHIVE_SMTP_MAX_CONCURRENT", "3", "smtp.max_concurrent", 3),
    ("COMMARCHIVE_SMTP_WORKERS", "0", "smtp.workers", 0),
    ("COMMARCHIVE_SIP", "0.0.0.0:5060", "sip.listen", "0.0.0.0:5060"),
    ("COMMARCHIVE_SIP_ADVERTISE", "192.0.2.10", "sip.advertise", "192.0.2.10"),
    ("COMMARCHIVE_SIP_ALLOW", '["192.0.2.0/24"]', "sip.allow", ["192.0.2.0/24"]),
    ("COMMARCHIVE_SIP_RTP_PORTS", "30000-30100", "sip.rtp_ports", "30000-30100"),
    ("COMMARCHIVE_SIP_RTP_TIMEOUT_SECONDS", "12", "sip.rtp_timeout_seconds", 12.0),
    ("COMMARCHIVE_SIP_MAX_CALLS", "7", "sip.max_calls", 7),
    ("COMMARCHIVE_DROP_FOLDER", "/srv/drop", "drop_folder", Path("/srv/drop")),
    ("COMMARCHIVE_VOSK_MODEL", "/models/ko", "transcribe.vosk_model", Path("/models/ko")),
    ("COMMARCHIVE_TRANSCRIBE_WORKERS", "3", "transcribe.workers", 3),
    ("COMMARCHIVE_SWEEP_INTERVAL_SECONDS", "60", "sweep_interval_seconds", 60),
]


@pytest.mark.parametrize(("variable", "raw", "path", "expected"), FLAT_NAMES,
                         ids=[row[0] for row in FLAT_NAMES])
def test_documented_variable_still_sets_its_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, path: str, expected: Any
) -> None:
    monkeypatch.setenv(variable, raw)
    assert setting(Settings(), path) == expected
    assert env_var_name(path) == variable


def test_listen_address_and_group_variables_combine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMARCHIVE_SMTP", "0.0.0.0:25")
    monkeypatch.setenv("COMMARCHIVE_SMTP_MAX_CONCURRENT", "4")
    monkeypatch.setenv("COMMARCHIVE_SIP_MAX_CALL_DURATION_SECONDS", "60")
    settings = Settings()
    assert settings.smtp.listen == "0.0.0.0:25" and settings.smtp.max_concurrent == 4
    assert settings.sip.listen is None and settings.sip.max_call_duration_seconds == 60.0


def test_cli_flags_set_the_listen_address_and_keep_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ``serve --smtp/--sip/--http/--drop-folder`` pass these keywords to Settings.
    monkeypatch.setenv("COMMARCHIVE_SMTP", "0.0.0.0:25")
    monkeypatch.setenv("COMMARCHIVE_SMTP_MAX_CONCURRENT", "4")
    settings = Settings(smtp="127.0.0.1:2600", sip="5070", http="127.0.0.1:9000",
                        drop_folder=Path("/srv/drop"))
    assert settings.smtp.listen == "127.0.0.1:2600"
    assert settings.smtp.max_concurrent == 4
    assert settings.sip.listen == "5070"
    assert (settings.http, settings.drop_folder) == ("127.0.0.1:9000", Path("/srv/drop"))
    assert smtp_config(settings.smtp).port == 2600
    assert (sip_config(settings.sip).host, sip_config(settings.sip).port) == ("127.0.0.1", 5070)


def test_nothing_listens_unless_asked() -> None:
    settings = Settings()
    assert settings.smtp.listen is None and settings.sip.listen is None


def test_settings_defaults_are_smtp_config_defaults() -> None:
    built = smtp_config(Settings(smtp="127.0.0.1:2525").smtp)
    # The one deliberate difference: serve parses in worker processes.
    assert Settings().smtp.workers == 2 and SmtpConfig().workers == 0
    assert dataclasses.replace(built, workers=0) == SmtpConfig()


def test_settings_defaults_are_sip_config_defaults() -> None:
    assert sip_config(Settings(sip="127.0.0.1:5060").sip) == SipConfig()


def test_transcription_defaults_are_the_workers_defaults() -> None:
    workers = Settings().transcribe.workers
    assert inspect.signature(TranscriptionWorker).parameters["workers"].default == workers
    assert inspect.signature(backfill).parameters["workers"].default == workers
    assert Settings().transcribe.vosk_model is None


def test_bad_values_are_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="is not HOST:PORT"):
        Settings(smtp="localhost:smtp")
    monkeypatch.setenv("COMMARCHIVE_SIP_RTP_PORTS", "40000-20000")
    with pytest.raises(ValidationError, match="is not a port range"):
        Settings()


@pytest.mark.parametrize("variable", ["COMMARCHIVE_MASTER_KEY", "COMMARCHIVE_ES_PASSWORD",
                                      "COMMARCHIVE_S3_SECRET_KEY"])
def test_placeholder_secrets_are_rejected(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()


def test_sip_tls_takes_the_tls_group_and_a_bare_host_gets_port_5061(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMMARCHIVE_TLS_CERT", "/etc/commarchive/tls/server.pem")
    monkeypatch.setenv("COMMARCHIVE_TLS_KEY", "/etc/commarchive/tls/server.key")
    monkeypatch.setenv("COMMARCHIVE_TLS_CLIENT_CA", "/etc/commarchive/tls/sbc-ca.pem")
    monkeypatch.setenv("COMMARCHIVE_TLS_CLIENT_FINGERPRINTS", '["' + "ab" * 32 + '"]')
    monkeypatch.setenv("COMMARCHIVE_SIP_MAX_CALLS", "7")
    # ``serve --sip-tls 0.0.0.0`` alone: TLS only, merged with COMMARCHIVE_SIP_*.
    settings = Settings(sip={"tls_listen": "0.0.0.0"})
    config = sip_config(settings.sip, settings.tls)
    assert (config.udp, config.tcp, config.max_calls) == (False, False, 7)
    assert config.tls is not None
    assert (config.tls.host, config.tls.port, config.tls.mutual) == ("0.0.0.0", 5061, True)
    assert config.tls.client_ca == Path("/etc/commarchive/tls/sbc-ca.pem")
    assert config.tls.client_fingerprints == ("ab" * 32,)
    both = Settings(sip={"listen": "127.0.0.1:5060", "tls_listen": "127.0.0.1:5071"})
    config = sip_config(both.sip, both.tls)
    assert (config.udp, config.tcp, config.port) == (True, True, 5060)
    assert config.tls is not None and config.tls.port == 5071


def test_sip_tls_without_a_certificate_is_refused_at_startup() -> None:
    with pytest.raises(ValidationError, match="needs COMMARCHIVE_TLS_CERT"):
        Settings(sip={"tls_listen": "0.0.0.0:5061"})


def test_require_srtp_reaches_the_server_and_needs_sip_over_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMMARCHIVE_SIP_REQUIRE_SRTP", "true")
    with pytest.raises(ValidationError, match="needs COMMARCHIVE_SIP_TLS_LISTEN"):
        Settings(sip="127.0.0.1:5060")
    settings = Settings(sip={"tls_listen": "127.0.0.1"}, tls={"cert": "/c.pem", "key": "/c.key"})
    assert sip_config(settings.sip, settings.tls).require_srtp is True


def test_a_tls_key_inside_the_data_directory_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "arc"
    inside = {"cert": data_dir / "server.pem", "key": data_dir / "tls" / "server.key"}
    with pytest.raises(ValidationError, match=r"COMMARCHIVE_TLS_KEY .* inside the data directory"):
        Settings(data_dir=data_dir, tls=inside)
    with pytest.raises(ValidationError, match=r"COMMARCHIVE_SMTP_TLS_KEY .* inside the data dir"):
        Settings(data_dir=data_dir, smtp={"tls_key": data_dir / "k.pem"})
    outside = Settings(data_dir=data_dir,
                       tls={"cert": tmp_path / "s.pem", "key": tmp_path / "s.key"})
    assert outside.tls.key == tmp_path / "s.key"
