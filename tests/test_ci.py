"""The test suite decides "am I in CI" in one place, and any usual truthy ``CI`` counts.

A check that accepted only ``CI=true`` made tool-dependent tests skip quietly
under ``CI=1``; one helper, used everywhere, keeps that from coming back.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.services import in_ci

TESTS = Path(__file__).resolve().parent
#: The one module that reads the ``CI`` variable, and this test of it.
ALLOWED = frozenset({TESTS / "services.py", Path(__file__).resolve()})


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", " True "])
def test_usual_truthy_values_mean_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_other_values_do_not(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert not in_ci()


def test_no_other_test_module_reads_the_ci_variable() -> None:
    readers = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path not in ALLOWED
        and re.search(r"""["']CI["']""", path.read_text(encoding="utf-8"))
    ]
    assert readers == [], f"use tests.conftest.IN_CI instead of reading CI in {readers}"
