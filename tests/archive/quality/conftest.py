"""Shared setup of the quality workspace's tests: a scorecard and reviewer users."""

from __future__ import annotations

from typing import Any

import pytest

from archive.config import Role
from archive.quality import scorecards
from archive.service import Archive
from archive.users import User

QUALITY = User("rita", Role.QUALITY)
QUALITY_2 = User("ramon", Role.QUALITY)
AGENT = User("agent-smith", Role.AGENT)
AGENT_NUMBER = "+31205550100"

CARD_SECTIONS: list[dict[str, Any]] = [
    {"title": "Opening", "criteria": [
        {"id": "greeting", "label": "Greets the customer", "weight": 1},
        {"id": "identify", "label": "Checks the customer's identity", "weight": 3,
         "auto_fail": True}]},
    {"title": "Solution", "criteria": [
        {"id": "solved", "label": "Solves the problem", "weight": 2}]},
]


@pytest.fixture
def card(archive: Archive) -> scorecards.Scorecard:
    return scorecards.save(archive, name="Calls", sections=CARD_SECTIONS, actor="rita",
                           role="quality")
