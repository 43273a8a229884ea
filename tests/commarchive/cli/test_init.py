"""``commarchive init``: the operator's own organisation instead of the shipped example."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.config import example_values, load_config
from commarchive.cli.init import Organisation, config_toml
from tests.commarchive.cli.test_cli import cli


def test_init_with_options_writes_the_organisation_and_warns_about_nothing(
    tmp_path: Path
) -> None:
    data_dir = tmp_path / "arc"
    proc = cli("init", str(data_dir), "--organisation", 'Glasnet "Noord" BV',
               "--internal-domain", "glasnet.nl", "--internal-domain", "@Glasnet.BE",
               "--internal-number", "+31 85 000 1", "--region", "be")
    config = load_config(data_dir)
    assert config.organisation == 'Glasnet "Noord" BV'
    assert config.internal_domains == ("glasnet.nl", "glasnet.be")
    assert config.internal_sip_domains == ("glasnet.nl", "glasnet.be")  # SIP defaults to mail
    assert config.internal_numbers == ("+31850001",)
    assert config.default_region == "BE"
    # The monitored mailboxes moved to the company's domain; the example's queue number went.
    assert {r.mailbox for r in config.rules if r.mailbox} == {
        "orders@glasnet.nl", "sales@glasnet.nl", "billing@glasnet.nl"}
    assert not any(r.party_number_prefix for r in config.rules)
    assert example_values(config) == ()
    assert "warning: " not in proc.stderr.replace("warning: a key file", "")


def test_init_sip_domain_given_separately(tmp_path: Path) -> None:
    cli("init", str(tmp_path / "arc"), "--organisation", "Glasnet", "--internal-domain",
        "glasnet.nl", "--internal-sip-domain", "pbx.glasnet.nl", "--no-input")
    config = load_config(tmp_path / "arc")
    assert config.internal_sip_domains == ("pbx.glasnet.nl",)
    # No number given: the example company's numbers are not kept as this one's.
    assert config.internal_numbers == ()
    assert example_values(config) == ()


def test_init_without_answers_keeps_the_example_and_says_so(tmp_path: Path) -> None:
    data_dir = tmp_path / "arc"
    proc = cli("init", str(data_dir))
    warning = [line for line in proc.stderr.splitlines() if "example organisation" in line]
    assert len(warning) == 1
    assert warning[0].startswith("warning: ") and str(data_dir / "archive.toml") in warning[0]
    assert "organisation" in warning[0] and "data subjects" in warning[0]


@pytest.mark.parametrize(("option", "value", "reason"), [
    ("--internal-domain", "glasnet nl", "not a domain name"),
    ("--internal-sip-domain", "-bad-.nl", "not a domain name"),
    ("--internal-number", "020-5550100", "not an E.164 number"),
    ("--region", "Nederland", "not a two-letter country code"),
    ("--organisation", "  ", "give the company's name"),
])
def test_init_refuses_bad_answers_naming_the_option_and_creates_nothing(
    tmp_path: Path, option: str, value: str, reason: str
) -> None:
    data_dir = tmp_path / "arc"
    proc = cli("init", str(data_dir), "--internal-domain", "glasnet.nl", option, value,
               check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith(f"error: {option} ") and reason in proc.stderr
    assert not data_dir.exists()


def _init_on_a_terminal(*args: str) -> tuple[subprocess.Popen[bytes], int]:
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "dumb"}
    env.pop("COMMARCHIVE_DATA_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "commarchive", "init", *args],
                            stdin=terminal, stdout=subprocess.PIPE, stderr=terminal, env=env)
    os.close(terminal)
    return proc, controller


def test_init_with_options_on_a_terminal_asks_nothing(tmp_path: Path) -> None:
    # As run.sh started in the background would: a question would stop it for good.
    proc, controller = _init_on_a_terminal(str(tmp_path / "arc"), "--organisation", "Glasnet",
                                           "--internal-domain", "glasnet.nl")
    assert proc.wait(timeout=60) == 0
    os.close(controller)
    assert load_config(tmp_path / "arc").default_region == "NL"


def test_init_prompts_on_a_terminal(tmp_path: Path) -> None:
    data_dir = tmp_path / "arc"
    proc, controller = _init_on_a_terminal(str(data_dir))
    answers = iter(["Glasnet BV", "glasnet.nl, glasnet.be", "", "+31850001", "NL"])
    seen = b""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        seen += chunk
        if seen.rstrip().endswith((b":", b"]:")):
            os.write(controller, (next(answers) + "\n").encode())
            seen = b""
    assert proc.wait(timeout=60) == 0
    os.close(controller)
    config = load_config(data_dir)
    assert config.organisation == "Glasnet BV"
    assert config.internal_domains == ("glasnet.nl", "glasnet.be")
    assert config.internal_sip_domains == ("glasnet.nl", "glasnet.be")  # the default taken
    assert config.internal_numbers == ("+31850001",)
    assert example_values(config) == ()


def test_every_example_line_is_replaced_exactly_once() -> None:
    # config_toml refuses to run on a DEFAULT_CONFIG_TOML that drifted from it.
    text = config_toml(Organisation(name="X", domains=("x.nl",), sip_domains=("x.nl",),
                                    numbers=("+3185",), region="BE"))
    live = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    for example in ("Example Hosting", "example.com", "+3120555", '"NL"'):
        assert example not in live


def _serve_log_until_started(data_dir: Path) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "COMMARCHIVE_DATA_DIR": str(data_dir)}
    server = subprocess.Popen([sys.executable, "-m", "commarchive", "serve", "--http",
                               f"127.0.0.1:{port}"], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        assert server.stderr is not None
        for line in server.stderr:
            lines.append(line)
            if "Uvicorn running" in line:
                break
    finally:
        server.terminate()
        server.wait(timeout=30)
    return "".join(lines)


def test_serve_warns_once_at_start_while_example_values_are_in_place(tmp_path: Path) -> None:
    cli("init", str(tmp_path / "example"))
    log = _serve_log_until_started(tmp_path / "example")
    warnings = [line for line in log.splitlines() if "example organisation" in line]
    assert len(warnings) == 1 and " WARNING " in warnings[0], log
    cli("init", str(tmp_path / "own"), "--organisation", "Glasnet", "--internal-domain",
        "glasnet.nl", "--internal-number", "+31850001")
    assert "example organisation" not in _serve_log_until_started(tmp_path / "own")
