"""docker-compose.yml runs the real topology (there is no Docker engine here, so it is
checked as compose would read it): two app nodes and a worker sharing PostgreSQL, MinIO
with an Object Lock bucket made at start, and Elasticsearch with security on and not
published; SIPREC on UDP and TCP with one-to-one RTP ranges; every node with the same
shared settings; no secret written into the file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from commarchive.nodes import SHARED_SETTINGS
from commarchive.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
NODES = ("app-a", "app-b", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(parsed, dict)
    return parsed


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in service["environment"].items()}


def _ports(service: dict[str, Any]) -> list[str]:
    return [str(p) for p in service.get("ports", [])]


def test_two_app_nodes_and_a_worker_share_one_archive(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(NODES) <= set(services)
    envs = {name: _env(services[name]) for name in NODES}
    for name, env in envs.items():
        assert env["COMMARCHIVE_KEYRING_STORE"] == "catalog", name
        assert env["COMMARCHIVE_EMBEDDED_WORKER"] == "false", name
        assert env["COMMARCHIVE_CATALOG_URL"].startswith("postgresql+psycopg://"), name
        assert env["COMMARCHIVE_STORE"] == "s3" and env["COMMARCHIVE_INDEX"] == "elasticsearch"
        assert env["COMMARCHIVE_AUDIT_ANCHOR_S3_BUCKET"], name
        assert "commarchive-passphrase" in services[name]["secrets"], name
        assert "app-config:/var/lib/commarchive/data" in services[name]["volumes"], name
        assert "models:/models" in services[name]["volumes"], name
    # What nodes must agree on (commarchive.nodes) is the same for all three.
    shared = {f"COMMARCHIVE_{p.replace('.', '_').upper()}" for p in SHARED_SETTINGS}
    for variable in shared:
        assert len({env.get(variable) for env in envs.values()}) == 1, variable
    assert services["worker"]["command"] == ["commarchive", "worker"]
    assert services["app-b"]["depends_on"]["app-a"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(services["app-a"]["healthcheck"]["test"])
    assert "drop:/var/lib/commarchive/drop" in services["app-a"]["volumes"]


def test_the_settings_of_every_node_are_valid(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in NODES:
        for variable, value in _env(compose["services"][name]).items():
            value = re.sub(r"\$\{(\w+)(:[-?][^}]*)?\}", "placeholder-" + "x" * 20, value)
            monkeypatch.setenv(variable, value)
        settings = Settings()
        assert settings.keyring_store.value == "catalog"
        if name != "worker":
            assert settings.sip.listen and settings.sip.rtp_port_range()


def test_siprec_on_udp_and_tcp_with_rtp_ranges_mapped_one_to_one(
    compose: dict[str, Any]
) -> None:
    ranges = []
    for name in ("app-a", "app-b"):
        service = compose["services"][name]
        env = _env(service)
        sip_port = env["COMMARCHIVE_SIP"].rsplit(":", 1)[1]
        ports = _ports(service)
        assert f"127.0.0.1:{sip_port}:{sip_port}/udp" in ports
        assert f"127.0.0.1:{sip_port}:{sip_port}/tcp" in ports
        rtp = env["COMMARCHIVE_SIP_RTP_PORTS"]
        # The SDP answer names the container's ports: the host must map the same ones.
        assert f"127.0.0.1:{rtp}:{rtp}/udp" in ports
        ranges.append(tuple(int(p) for p in rtp.split("-")))
    (a_lo, a_hi), (b_lo, b_hi) = ranges
    assert a_hi < b_lo or b_hi < a_lo


def test_minio_is_pinned_and_its_object_lock_buckets_are_made_at_start(
    compose: dict[str, Any]
) -> None:
    services = compose["services"]
    assert re.fullmatch(r"quay\.io/minio/minio:RELEASE\.[0-9TZ:-]+", services["minio"]["image"])
    init = services["minio-init"]
    assert re.fullmatch(r"quay\.io/minio/mc:RELEASE\.[0-9TZ:-]+", init["image"])
    script = " ".join(init["command"])
    bucket = _env(services["app-a"])["COMMARCHIVE_AUDIT_ANCHOR_S3_BUCKET"]
    assert f"mc mb --ignore-existing --with-lock local/{bucket}" in script
    assert services["app-a"]["depends_on"]["minio-init"]["condition"] == \
        "service_completed_successfully"


def test_elasticsearch_has_security_on_a_generated_password_and_no_published_port(
    compose: dict[str, Any]
) -> None:
    es = compose["services"]["elasticsearch"]
    env = _env(es)
    assert env["xpack.security.enabled"] == "true"
    assert env["ELASTIC_PASSWORD"] == "${ELASTIC_PASSWORD:?set ELASTIC_PASSWORD}"
    assert "ports" not in es and "ports" not in compose["services"]["postgres"]
    for name in NODES:
        node = _env(compose["services"][name])
        assert node["COMMARCHIVE_ES_USERNAME"] == "elastic"
        assert node["COMMARCHIVE_ES_PASSWORD"] == env["ELASTIC_PASSWORD"]


def test_no_secret_is_written_into_the_file_and_ports_stay_on_localhost(
    compose: dict[str, Any]
) -> None:
    for name, service in compose["services"].items():
        for variable, value in service.get("environment", {}).items():
            if re.search(r"PASSWORD|SECRET|PASSPHRASE(?!_SOURCE)", str(variable)):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", str(value)), (name, variable)
        for port in _ports(service):
            assert port.startswith("127.0.0.1:"), (name, port)
