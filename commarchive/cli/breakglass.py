"""The CLI's break-glass path around two-person control.

In the API and the web UI an erasure, objection, lifted restriction or hold, or
retired key runs only when a second person approves it (``archive.approvals``).
An operator with the data directory and the keys can still run it at once from
the CLI, for emergencies and automation: that is by design, since whoever holds
the keys could anyway. It is never silent: before the operation runs, a
``break_glass`` audit event names the command, the ``--actor`` and the operating
system user who ran it, so an audit review finds every action that skipped the
second person.
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from archive.audit import AuditEvent
from archive.service import Archive


def os_user() -> str:
    """The login running the command (``SUDO_USER`` first: who typed ``sudo``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid:{os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{sudo} (as {user})" if sudo and sudo != user else user


def break_glass(arc: Archive, command: str, *, actor: str, role: str,
                subject: str | None = None, **detail: Any) -> AuditEvent:
    """Audit that ``command`` runs without a second person's approval."""
    return arc.vault.record_event(
        actor=actor, role=role, action="break_glass", subject=subject,
        detail={"command": command, "os_user": os_user(), "two_person_control": "skipped",
                **detail})
