"""A SoftHSM2 token for the PKCS#11 tests, initialised in a temporary directory.

``SOFTHSM2_CONF`` points SoftHSM at a configuration whose token directory is the
test's own, so nothing outside it is touched. A missing softhsm2 fails the test
under CI=true and skips it elsewhere (``tests.services.unavailable``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.services import unavailable

MODULE_CANDIDATES: Final = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
TOKEN_LABEL: Final = "commarchive-test"
USER_PIN: Final = "4711-test-pin"
SO_PIN: Final = "0815-test-so-pin"


@dataclass(frozen=True, slots=True)
class SoftHsm:
    module: Path
    token_label: str
    pin: str
    conf: Path


_SESSION_TOKEN: list[SoftHsm] = []


def softhsm_token(directory: Path) -> SoftHsm:
    """The test session's token, initialised under ``directory`` on first use.

    One per process: the PKCS#11 module reads SOFTHSM2_CONF when it is first
    initialised, so later tokens elsewhere would not be seen; tests use their
    own key labels in it. Subprocesses inherit SOFTHSM2_CONF from os.environ.
    """
    if _SESSION_TOKEN:
        return _SESSION_TOKEN[0]
    util = shutil.which("softhsm2-util")
    module = next((Path(m) for m in MODULE_CANDIDATES if Path(m).exists()), None)
    if util is None or module is None:
        unavailable("SoftHSM2", "install the Debian package softhsm2")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        unavailable("python-pkcs11", "pip install python-pkcs11")
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run([util, "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", USER_PIN,
                    "--so-pin", SO_PIN], check=True, capture_output=True, timeout=60)
    _SESSION_TOKEN.append(SoftHsm(module, TOKEN_LABEL, USER_PIN, conf))
    return _SESSION_TOKEN[0]
