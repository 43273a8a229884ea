"""ingest.errors: one exception root for ingest, extra bases kept for existing callers,
errors that cross processes picklable, and the tree in the docstring names every class."""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path

import pytest

from ingest import errors
from ingest.audio import AudioError
from ingest.calls import CallInputError
from ingest.email.parsed import UnparsedReason
from ingest.errors import IngestError
from ingest.sip.message import SipMessage, SipParseError
from ingest.sip.metadata import MetadataError
from ingest.sip.sdp import SdpError
from ingest.sip.session import CallState, InvalidTransition
from ingest.sip.spool import SpoolError

EXCEPTIONS = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
              if issubclass(cls, BaseException) and cls.__module__ == errors.__name__]


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda cls: cls.__name__)
def test_every_ingest_exception_derives_from_ingest_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, errors.IngestError)
    assert cls.__name__ in (errors.__doc__ or ""), "the tree in the docstring names it"


def test_callers_still_catch_the_builtin_bases() -> None:
    assert issubclass(errors.SmtpConfigError, ValueError)
    assert issubclass(errors.ModelUnavailable, ValueError)
    assert issubclass(errors.WorkerDied, RuntimeError)
    assert issubclass(errors.WorkerStartError, RuntimeError)
    assert issubclass(errors.AudioUnusable, errors.TranscriptionError)
    assert issubclass(errors.TranscriptionCancelled, errors.TranscriptionError)


@pytest.mark.parametrize("exc", [
    errors.WorkerDied("smtp-ingest-worker exited"),
    errors.WorkerStartError("smtp-ingest-worker failed to start"),
    errors.MimeLimitExceeded(UnparsedReason.TOO_DEEP),
], ids=lambda exc: type(exc).__name__)
def test_errors_that_cross_processes_survive_pickling(exc: errors.IngestError) -> None:
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc) and str(copy) == str(exc)


# -- SIP and call ingest ----------------------------------------------------------------

SIP_AND_CALL_ERRORS = [
    CallInputError("sidecar lacks 'start'"),
    AudioError("not a RIFF/WAVE file"),
    SipParseError("Bad CSeq", partial=SipMessage(method="INVITE", uri="sip:srs@127.0.0.1")),
    SdpError("no m= line"),
    MetadataError("DTD not allowed"),
    SpoolError(Path("/data/spool/abc.spool"), reason="not a spool file"),
    InvalidTransition("call-1", CallState.DONE, CallState.CONFIRMED),
]


@pytest.mark.parametrize("exc", SIP_AND_CALL_ERRORS, ids=lambda e: type(e).__name__)
def test_every_sip_and_call_error_is_an_ingest_error_and_survives_pickling(
    exc: Exception,
) -> None:
    assert isinstance(exc, IngestError)
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is type(exc) and str(again) == str(exc)
    assert vars(again) == vars(exc)


@pytest.mark.parametrize(
    "exc", [e for e in SIP_AND_CALL_ERRORS if not isinstance(e, SpoolError | InvalidTransition)]
)
def test_input_errors_are_still_value_errors_for_callers_that_catch_those(
    exc: Exception,
) -> None:
    assert isinstance(exc, ValueError)


def test_callers_can_catch_the_root() -> None:
    with pytest.raises(IngestError) as caught:
        raise CallInputError("audio: no samples")
    assert isinstance(caught.value, CallInputError) and caught.value.reason == "audio: no samples"


@pytest.mark.parametrize("exc", SIP_AND_CALL_ERRORS, ids=lambda e: type(e).__name__)
def test_the_tree_in_the_docstring_names_every_sip_and_call_error(exc: Exception) -> None:
    assert type(exc).__name__ in (errors.__doc__ or "")
