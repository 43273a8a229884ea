"""Deployment settings: one object, ``COMMARCHIVE_``-prefixed environment variables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Final

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS: Final = frozenset({"changeme", "change-me", "secret", "password", "minioadmin"})


class StoreBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class IndexBackend(StrEnum):
    SQLITE = "sqlite"
    ELASTICSEARCH = "elasticsearch"


def parse_hostport(value: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = default_host, value
    host = host.strip("[]") or default_host
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"{value!r} is not HOST:PORT") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port out of range in {value!r}")
    return host, number


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMMARCHIVE_", extra="ignore")

    data_dir: Path | None = None
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    catalog_url: str | None = None

    store: StoreBackend = StoreBackend.LOCAL
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None
    s3_bucket: str = "commarchive"
    s3_secure: bool = True
    s3_region: str | None = None

    index: IndexBackend = IndexBackend.SQLITE
    es_url: str | None = None
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_ca_certs: Path | None = None
    es_prefix: str = "commarchive"

    http: str = "127.0.0.1:8000"
    smtp: str | None = None
    sip: str | None = None
    #: Address SBCs reach us at, put in Contact and SDP (needed when binding 0.0.0.0).
    sip_advertise: str | None = None
    sip_allow: list[str] = ["127.0.0.0/8", "::1/128"]
    sip_rtp_ports: str = "20000-40000"
    sip_rtp_timeout_seconds: float = 30.0
    sip_max_calls: int = 500
    drop_folder: Path | None = None

    smtp_allow: list[str] = ["127.0.0.0/8", "::1/128"]
    smtp_tls_cert: Path | None = None
    smtp_tls_key: Path | None = None
    smtp_require_tls: bool = False
    smtp_require_auth: bool = False
    smtp_max_message_bytes: int = 50 * 1024 * 1024
    smtp_max_recipients: int = 1000
    smtp_max_concurrent: int = 8
    #: Processes that parse and seal incoming mail (0: all in the serving process).
    smtp_workers: int = 2

    vosk_model: Path | None = None
    transcribe_workers: int = 1
    sweep_interval_seconds: int = 3600

    @field_validator("s3_secret_key", "es_password", "master_key")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError("is a placeholder; set a real secret")
        return value

    @model_validator(mode="after")
    def _backend_settings(self) -> Settings:
        if self.store is StoreBackend.S3:
            missing = [n for n in ("s3_endpoint", "s3_access_key", "s3_secret_key")
                       if getattr(self, n) is None]
            if missing:
                names = ", ".join("COMMARCHIVE_" + m.upper() for m in missing)
                raise ValueError(f"store=s3 needs {names}")
        if self.index is IndexBackend.ELASTICSEARCH and not self.es_url:
            raise ValueError("index=elasticsearch needs COMMARCHIVE_ES_URL")
        self.rtp_port_range()
        for name in ("http", "smtp", "sip"):
            value = getattr(self, name)
            if value:
                parse_hostport(value)
        return self

    def rtp_port_range(self) -> tuple[int, int]:
        low, sep, high = self.sip_rtp_ports.partition("-")
        try:
            lo, hi = int(low), int(high)
        except ValueError:
            raise ValueError(f"sip_rtp_ports {self.sip_rtp_ports!r} is not LOW-HIGH") from None
        if not (1024 <= lo < hi <= 65535) or not sep:
            raise ValueError(f"sip_rtp_ports {self.sip_rtp_ports!r} is not a port range")
        return lo, hi

    def require_data_dir(self) -> Path:
        if self.data_dir is None:
            raise ValueError("no data directory: pass --data-dir DIR or set COMMARCHIVE_DATA_DIR")
        return self.data_dir
