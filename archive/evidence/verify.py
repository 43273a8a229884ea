"""Offline verification of an evidence bundle: no archive, no keys, only the ZIP.

A bundle holds ``manifest.json`` (every file with its SHA-256 and size),
``manifest.sha256`` (the SHA-256 of ``manifest.json``), the originals and the
chain-of-custody records. Verification names every problem by file: the manifest
changed, a listed file missing, changed or of another size, a file the manifest
does not list. The same check can be done by hand with ``sha256sum``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

MANIFEST: Final = "manifest.json"
MANIFEST_DIGEST: Final = "manifest.sha256"
README: Final = "README.txt"
#: Files a bundle carries besides those its manifest lists.
FRAME_FILES: Final = frozenset({MANIFEST, MANIFEST_DIGEST, README})
FORMAT: Final = "commarchive-evidence/1"


@dataclass(slots=True)
class Verification:
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_bundle(path: Path) -> Verification:
    """Check a bundle against its manifest; every problem names the file."""
    out = Verification()
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        out.problems.append(f"{path.name}: not a readable ZIP ({exc})")
        return out
    with zf:
        names = set(zf.namelist())
        if MANIFEST not in names:
            out.problems.append(f"{MANIFEST}: missing; nothing can be verified")
            return out
        manifest_bytes = zf.read(MANIFEST)
        if MANIFEST_DIGEST not in names:
            out.problems.append(f"{MANIFEST_DIGEST}: missing")
        else:
            recorded = zf.read(MANIFEST_DIGEST).decode("ascii", "replace").split()
            if not recorded or recorded[0] != sha256_hex(manifest_bytes):
                out.problems.append(f"{MANIFEST}: changed (its SHA-256 is not the one in "
                                    f"{MANIFEST_DIGEST})")
        try:
            manifest = json.loads(manifest_bytes)
            listed = {str(f["path"]): f for f in manifest["files"]}
        except (ValueError, KeyError, TypeError) as exc:
            out.problems.append(f"{MANIFEST}: not a bundle manifest ({exc})")
            return out
        for name, entry in sorted(listed.items()):
            if name not in names:
                out.problems.append(f"{name}: missing")
                continue
            data = zf.read(name)
            if sha256_hex(data) != entry["sha256"]:
                out.problems.append(f"{name}: changed (SHA-256 differs from the manifest)")
            elif len(data) != int(entry["size"]):
                out.problems.append(f"{name}: changed (size differs from the manifest)")
            else:
                out.files += 1
        for name in sorted(names - set(listed) - FRAME_FILES):
            if not name.endswith("/"):
                out.problems.append(f"{name}: not in the manifest (added)")
    return out
