"""The README's "Your first hour" block, taken from README.md itself and run as written.

Only the three listening ports are swapped for free ones (the machine may be
running another archive on the defaults); every other line runs as a newcomer
would paste it, in a copy of the repository. Each numbered step's output is
checked, so the walk-through and the software cannot drift apart.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.commarchive.test_run_script import SYSTEM_PYTHON, repo_copy
from tests.conftest import IN_CI
from tests.services import free_port

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- first-hour: begin -->", "<!-- first-hour: end -->"
TOOLS = ("curl", "swaks", "sox", "sipp")


def first_hour_block(readme: str) -> str:
    """The shell lines between the markers, without the code fence."""
    block = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block.startswith("```sh\n") and block.endswith("\n```"), "one sh code block"
    return block.removeprefix("```sh\n").removesuffix("\n```") + "\n"


def with_step_markers(script: str) -> str:
    """``echo @@step N`` before each ``# N.`` comment, on stdout and stderr alike."""
    return re.sub(r"^# (\d+)\. ", lambda m: f"echo @@step {m.group(1)}; "
                  f"echo @@step {m.group(1)} >&2\n{m.group(0)}", script, flags=re.MULTILINE)


def by_step(output: str) -> dict[int, str]:
    steps: dict[int, str] = {}
    for chunk in output.split("@@step ")[1:]:
        number, _, text = chunk.partition("\n")
        steps[int(number)] = text
    return steps


def test_readme_first_hour_runs_as_written(tmp_path: Path) -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"missing tools {missing} (Debian: curl swaks sox sip-tester)")
        pytest.skip(f"missing tools {missing}")
    repo = repo_copy(tmp_path / "repo")
    http, smtp, sip = free_port(), free_port(), free_port()
    script = first_hour_block(README.read_text())
    script = (script.replace("127.0.0.1:8000", f"127.0.0.1:{http}")
              .replace("127.0.0.1:2525", f"127.0.0.1:{smtp}")
              .replace("127.0.0.1:5060", f"127.0.0.1:{sip}"))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("COMMARCHIVE_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHON": SYSTEM_PYTHON,
                "COMMARCHIVE_HTTP": f"127.0.0.1:{http}", "COMMARCHIVE_SMTP": f"127.0.0.1:{smtp}",
                "COMMARCHIVE_SIP": f"127.0.0.1:{sip}",
                # The environment may see the machine's packages: seconds, not minutes.
                "COMMARCHIVE_VENV_SYSTEM_SITE_PACKAGES": "1"})
    proc = subprocess.Popen(["bash", "-c", with_step_markers(script)], cwd=repo, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out, err = by_step(stdout), by_step(stderr)
    where = f"\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    assert proc.returncode == 0, where
    assert sorted(out) == list(range(1, 12)), where

    assert '{"ok":true}' in out[1], where
    assert re.search(r"^\s+cma_\S+$", err[1], re.MULTILINE), where  # the admin's token, once
    assert "example organisation" not in stderr, where  # the organisation was configured
    users = out[3].splitlines()
    for name, role in (("admin", "admin"), ("marloes", "quality"), ("pieter", "privacy"),
                       ("pbx", "ingest")):
        assert any(line.startswith(f"{name}\t{role}\t") for line in users), where
    assert re.search(r"sign in as marloes with: cma_\S+", out[4]), where
    assert re.search(r"<-  250 2\.0\.0 Ok: archived as \S+", out[5]), where
    assert '"created":true' in out[6] and '"channels":2' in out[6], where
    assert "call recorded" in out[7], where
    assert '"title": "Glasvezel storing"' in out[8] and '"total": 2' in out[8], where
    assert int(out[9].split()[-1]) >= 3, where  # the e-mail and both calls' originals
    assert '"erased"' in out[10] and '"total": 0' in out[10], where
    for line in stderr.splitlines():
        assert " ERROR " not in line and "Traceback" not in line, where
