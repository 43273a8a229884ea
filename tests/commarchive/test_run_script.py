"""``scripts/run.sh``, as the README's first command: its own .venv, a first admin, the UI URL.

Run in a copy of the repository, so the project's own environment and data stay
untouched. The global interpreter's packages are compared before and after: the
script must never install into it. Here the new environment may see the
machine's packages (``COMMARCHIVE_VENV_SYSTEM_SITE_PACKAGES=1``) so the test
takes seconds, not the minutes of downloading every dependency again;
``tests/soak/run_clean_venv.py`` does the same from an empty environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import free_port

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = shutil.which("python3") or "python3"


def repo_copy(target: Path) -> Path:
    """The repository's files as a fresh clone would have them (plus uncommitted edits)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def global_packages() -> str:
    return subprocess.run([SYSTEM_PYTHON, "-m", "pip", "freeze", "--all"], check=True,
                          capture_output=True, text=True).stdout


@dataclass
class Started:
    process: subprocess.Popen[str]
    log: str
    url: str


def start_run_sh(repo: Path, home: Path, *args: str, env: dict[str, str]) -> Started:
    """``bash scripts/run.sh ARGS`` until it serves; its stderr up to then."""
    process = subprocess.Popen(
        ["bash", "scripts/run.sh", *args], cwd=repo, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines: list[str] = []
    assert process.stderr is not None
    deadline = time.monotonic() + 600
    for line in process.stderr:
        lines.append(line)
        if "Uvicorn running on" in line or time.monotonic() > deadline:
            break
    log = "".join(lines)
    found = re.search(r"web UI: (http://\S+)", log)
    assert process.poll() is None and found, log
    return Started(process, log, found.group(1))


def stop(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


@pytest.fixture
def isolated(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    repo = repo_copy(tmp_path / "repo")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("COMMARCHIVE_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({
        "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHON": SYSTEM_PYTHON,
        "COMMARCHIVE_HTTP": f"127.0.0.1:{free_port()}",
        "COMMARCHIVE_SMTP": f"127.0.0.1:{free_port()}",
        "COMMARCHIVE_SIP": f"127.0.0.1:{free_port()}",
        "COMMARCHIVE_VENV_SYSTEM_SITE_PACKAGES": "1",
    })
    yield repo, env


def test_run_sh_installs_into_its_venv_and_prints_the_first_admin_token_once(
    isolated: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, env = isolated
    before = global_packages()
    first = start_run_sh(repo, tmp_path, "--organisation", "Glasnet BV",
                         "--internal-domain", "glasnet.nl", env=env)
    try:
        token = re.search(r"^\s+(cma_\S+)$", first.log, re.MULTILINE)
        assert token, first.log
        assert "users add NAME --role quality" in first.log
        assert first.url == f"http://{env['COMMARCHIVE_HTTP']}/"
        req = urllib.request.Request(first.url + "api/v1/admin/setup",
                                     headers={"Authorization": f"Bearer {token.group(1)}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.load(resp)["example_values"] == []  # the init options were used
    finally:
        stop(first.process)
    assert (repo / ".venv" / "bin" / "commarchive").exists()
    assert global_packages() == before

    again = start_run_sh(repo, tmp_path, env=env)
    stop(again.process)
    assert "cma_" not in again.log  # the token was shown once
    assert "installing" not in again.log  # and nothing reinstalled
    assert global_packages() == before
