"""Object-key validation shared by the stores."""

from __future__ import annotations

import re
from typing import Final

_KEY_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)*$")


def check_key(key: str) -> str:
    """Keys are relative slash-separated names; no '..', no absolute paths."""
    if len(key) > 512 or not _KEY_RE.match(key) or ".." in key.split("/"):
        raise ValueError(f"invalid object key {key!r}")
    return key
