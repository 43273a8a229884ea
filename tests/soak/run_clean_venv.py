"""``scripts/run.sh`` from an empty virtual environment (minutes: every dependency is
downloaded or taken from pip's cache), leaving the global interpreter's packages unchanged.

The CI form is ``tests/commarchive/test_run_script.py``, whose environment may see
the machine's packages so that it takes seconds::

    python -m tests.soak.run_clean_venv
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from tests.commarchive.test_run_script import (
    SYSTEM_PYTHON,
    global_packages,
    repo_copy,
    start_run_sh,
    stop,
)
from tests.services import free_port


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = repo_copy(root / "repo")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(root),
               "XDG_CONFIG_HOME": str(root / "config"), "PYTHON": SYSTEM_PYTHON,
               "COMMARCHIVE_HTTP": f"127.0.0.1:{free_port()}",
               "COMMARCHIVE_SMTP": f"127.0.0.1:{free_port()}",
               "COMMARCHIVE_SIP": f"127.0.0.1:{free_port()}"}
        before = global_packages()
        started = start_run_sh(repo, root, "--no-input", env=env)
        stop(started.process)
        own = (repo / ".venv" / "pyvenv.cfg").read_text()
        problems = []
        if not re.search(r"^\s+cma_\S+$", started.log, re.MULTILINE):
            problems.append("no admin token printed")
        if "include-system-site-packages = false" not in own:
            problems.append("the environment sees the machine's packages")
        if global_packages() != before:
            problems.append("the global interpreter's packages changed")
        print("\n".join(problems) or "ok: clean .venv, global packages unchanged")
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
