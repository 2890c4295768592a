"""Fixtures the media tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from addon.compression.decision_memo import DecisionMemo


@pytest.fixture
def memo(tmp_path: Path) -> Iterator[DecisionMemo]:
    m = DecisionMemo(tmp_path / "decisions")
    yield m
    m.close()
