"""The root of the ingest package's exceptions, and the whole tree in one picture.

Callers that only need to know "this input could not be ingested" catch
:class:`IngestError`; each subclass is defined next to the code that raises it
and carries its reason in a form safe to log or answer with (never content).
Several also derive from :class:`ValueError`, as they did before the tree
existed, so existing ``except ValueError`` handlers keep working. Archive
errors (``archive.errors.ArchiveError``, e.g. ``TemporaryFailure``) are not
part of this tree: an ingester lets them through so its caller can retry.

Exceptions::

    IngestError
     │
     │  -- SIP and call ingest (ingest/sip/, calls.py, audio.py) --------------------
     ├── CallInputError     ingest.calls: a sidecar or audio file that cannot become a
     │                      call item (also ValueError; ``reason`` is safe to show)
     ├── AudioError         ingest.audio: bytes that are not a WAV this package reads
     │                      (also ValueError)
     ├── SipParseError      ingest.sip.message: malformed SIP, answered 400 with the
     │                      reason phrase (also ValueError)
     ├── SdpError           ingest.sip.sdp: a malformed SDP offer (also ValueError)
     ├── MetadataError      ingest.sip.metadata: unsafe or malformed RFC 7865
     │                      recording metadata (also ValueError)
     ├── SpoolError         ingest.sip.spool: a call spool that cannot be read or
     │                      unwrapped (moved aside, never deleted)
     │  -- end of SIP and call ingest ----------------------------------------------
"""

from __future__ import annotations

__all__ = ["IngestError"]


class IngestError(Exception):
    """Something an ingester could not take in; the subclass says which input and why."""
