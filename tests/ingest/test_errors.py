"""ingest.errors: one exception root for ingest, extra bases kept for existing callers."""

from __future__ import annotations

import inspect
import pickle

import pytest

from ingest import errors
from ingest.email.parsed import UnparsedReason

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
