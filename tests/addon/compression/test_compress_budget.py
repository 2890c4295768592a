"""The compression budget: no request waits longer than its budget; overruns go whole, counted."""

from __future__ import annotations

import time

import pytest

from addon.compression import compress_budget
from addon.compression.compress_budget import OVER_BUDGET, CompressBudget, expected_kind
from compressors import Context, Result, Settings

PROSE = " ".join(["The migration moves every ledger to the new schema before the cut-over."] * 40)
LOG = "\n".join(f"2026-12-07 10:00:{i % 60:02d} INFO worker {i % 4} heartbeat ok" for i in range(400))


@pytest.fixture
def slow(monkeypatch):
    """compress() that takes `delay` seconds."""
    state = {"delay": 0.0}

    def fake(text: str, context: Context, settings: Settings | None = None) -> Result:
        time.sleep(state["delay"])
        return Result(text[:10], "log", True, ())

    monkeypatch.setattr(compress_budget, "compress", fake)
    return state


def test_a_compression_past_the_budget_goes_whole_and_is_counted(slow) -> None:
    budget = CompressBudget(base_s=0.05, model_s=0.0)
    slow["delay"] = 0.5
    started = time.monotonic()
    result = budget.compress(LOG, Context(tool_name="Bash"), Settings(), budget.deadline())
    assert time.monotonic() - started < 0.3  # did not wait for the compressor
    assert result == Result(LOG, OVER_BUDGET, True, ()) and budget.counters["compress_over_budget"] == 1
    slow["delay"] = 0.0
    assert budget.compress(LOG, Context(tool_name="Bash"), Settings(), budget.deadline()).text == LOG[:10]


def test_one_deadline_covers_all_of_a_requests_segments(slow) -> None:
    budget = CompressBudget(base_s=0.15, model_s=0.0)
    slow["delay"] = 0.1
    deadline = budget.deadline()
    started = time.monotonic()
    results = [budget.compress(LOG, Context(tool_name="Bash"), Settings(), deadline) for _ in range(5)]
    assert time.monotonic() - started < 0.4  # 5 × 0.1 s of work, but the request waited ~0.15 s
    assert results[0].kind == "log" and all(r.kind == OVER_BUDGET for r in results[2:])


def test_prose_for_the_text_model_gets_the_model_budget(slow) -> None:
    assert expected_kind(PROSE, Context()) == "text" and expected_kind(LOG, Context(tool_name="Bash")) != "text"
    budget = CompressBudget(base_s=0.02, model_s=1.0)
    slow["delay"] = 0.2
    assert budget.compress(PROSE, Context(), Settings(), budget.deadline()).kind == "log"  # waited for it
    assert budget.compress(LOG, Context(tool_name="Bash"), Settings(), budget.deadline()).kind == OVER_BUDGET
