"""Exceptions of the ingest package: one root, so callers catch ``IngestError``.

Exceptions::

    IngestError
     │
     │   -- SIP and call ingest (defined beside the code that raises them) --
     ├── CallInputError           ingest.calls: a sidecar or audio file that cannot become a
     │                            call item (also ValueError; ``reason`` is safe to show)
     ├── AudioError               ingest.audio: bytes that are not a recording in a format
     │                            this package decodes, or cannot be decoded; names the
     │                            format (also ValueError)
     ├── SipParseError            ingest.sip.message: malformed SIP, answered 400 with the
     │                            reason phrase (also ValueError)
     ├── SdpError                 ingest.sip.sdp: a malformed SDP offer (also ValueError)
     ├── MetadataError            ingest.sip.metadata: unsafe or malformed RFC 7865
     │                            recording metadata (also ValueError)
     ├── SpoolError               ingest.sip.spool: a call spool that cannot be read or
     │                            unwrapped (moved aside, never deleted)
     ├── InvalidTransition        ingest.sip.session: a call session move its state
     │                            machine does not allow (a bug, never input)
     │
     │   -- e-mail and transcription (defined here) --
     ├── SmtpConfigError          invalid SmtpConfig (bad CIDR, AUTH without TLS, unreadable
     │                            cert, workers that cannot start); also a ValueError
     ├── MimeLimitExceeded        a message past a MimeLimits bound; never escapes
     │                            ``build_item`` (the item is stored ``unparsed``)
     ├── WorkerDied               an ingest worker process exited before answering;
     │                            also a RuntimeError (the SMTP server answers 451)
     ├── WorkerStartError         an ingest worker could not start; also a RuntimeError
     └── TranscriptionError       carries a short ``reason``
          ├── ModelUnavailable    no usable vosk model at the configured path; also a
          │                       ValueError (CLIs report those as one line)
          ├── AudioUnusable       the recording cannot be decoded: the item is ``failed``
          └── TranscriptionCancelled  stop requested mid-recording: the item stays pending

The extra bases (``ValueError``, ``RuntimeError``) stay because callers catch
those. ``WorkerDied`` and ``WorkerStartError`` cross process boundaries and keep
the default one-message pickling.

Third-party errors (aiosmtpd, vosk, the email package) are converted where they
enter; archive errors (``archive.errors``) pass through ingest unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.email.parsed import UnparsedReason


class IngestError(Exception):
    """Root of every exception ingest raises."""


# --------------------------------------------------------------------------- e-mail


class SmtpConfigError(IngestError, ValueError):
    """An ``SmtpConfig`` the server cannot run with (reported before it listens)."""


class MimeLimitExceeded(IngestError):
    """A message crossed a ``MimeLimits`` bound while parsing (a reason code, no content)."""

    def __init__(self, reason: UnparsedReason) -> None:
        self.reason = reason
        super().__init__(reason.value)

    def __reduce__(self) -> tuple[Any, ...]:  # parsing runs in worker processes too
        return (type(self), (self.reason,))


class WorkerDied(IngestError, RuntimeError):
    """The worker handling a call exited before answering."""


class WorkerStartError(IngestError, RuntimeError):
    """A worker could not start (its initializer failed or it timed out)."""


# --------------------------------------------------------------------------- transcription


class TranscriptionError(IngestError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ModelUnavailable(TranscriptionError, ValueError):
    """A settings value points at no usable model (a ValueError, as CLIs report those)."""

    def __init__(self, path: Path | None, *, reason: str) -> None:
        self.path = path
        super().__init__(f"vosk model {path}: {reason}" if path else f"vosk model: {reason}")


class AudioUnusable(TranscriptionError):
    pass


class TranscriptionCancelled(TranscriptionError):
    def __init__(self) -> None:
        super().__init__("transcription cancelled")
