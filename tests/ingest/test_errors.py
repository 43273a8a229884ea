"""The ingest exception tree (ingest.errors): one root, old bases kept, picklable."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from ingest.audio import AudioError
from ingest.calls import CallInputError
from ingest.errors import IngestError
from ingest.sip.message import SipMessage, SipParseError
from ingest.sip.metadata import MetadataError
from ingest.sip.sdp import SdpError
from ingest.sip.session import CallState, InvalidTransition
from ingest.sip.spool import SpoolError

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
