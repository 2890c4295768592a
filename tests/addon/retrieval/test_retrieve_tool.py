"""The retrieve tool: definitions, the one marker format (round trip), and answers."""

from __future__ import annotations

import json

import pytest

from addon.retrieval.retrieve_tool import MARKER_ID, MAX_ANSWER_TOKENS, TOOL_NAME, add_markers, answer, marker_ids, parse_fold_id, unique_name
from compressors.types import Fold
from addon.providers import provider_named
from compressors.notes import NOTE_PATTERN, fold_note

ID = "0123456789abcdef01234567"


@pytest.mark.parametrize("provider", ["anthropic", "openai_chat", "openai_responses", "gemini"])
def test_definition_is_constant_valid_json_with_the_id_parameter(provider: str) -> None:
    literal = provider_named(provider).tool_definition(TOOL_NAME)
    assert literal == provider_named(provider).tool_definition(TOOL_NAME)  # byte-identical every time
    value = json.loads(literal)
    assert TOOL_NAME in literal and '"required":["id"]' in literal
    assert provider_named(provider).tool_names([value]) == {TOOL_NAME}


def test_unique_name() -> None:
    assert unique_name({"Read", "Bash"}) == TOOL_NAME
    assert unique_name({TOOL_NAME}) == f"{TOOL_NAME}_2"
    assert unique_name({TOOL_NAME, f"{TOOL_NAME}_2"}) == f"{TOOL_NAME}_3"


def test_markers_round_trip_exactly_the_ids_compressors_emit() -> None:
    text = "head\n" + fold_note(1240, "line") + "\nmid\n" + fold_note(3, "item", "status=ok") + "\ntail"
    marked = add_markers(text, ID)
    assert "[… 1,240 lines folded · retrieve id=0123456789abcdef01234567]" in marked
    assert "[… 3 items folded: status=ok · retrieve id=0123456789abcdef01234567]" in marked
    assert marker_ids(marked) == [ID]
    assert not NOTE_PATTERN.search(MARKER_ID.sub("", marked))  # every note became a marker
    assert marker_ids("retrieve id=0123 and [… 2 lines folded · retrieve id=XYZ]") == []


def test_answers() -> None:
    original = "alpha\nbeta ERROR one\ngamma\ndelta\nepsilon ERROR two"
    assert answer(original, None, "ok") == "lines 1-5 of 5:\n1: alpha\n2: beta ERROR one\n3: gamma\n4: delta\n5: epsilon ERROR two"
    assert answer(original, "error", "ok") == "2 matching lines of 5:\n1: alpha\n2: beta ERROR one\n3: gamma\n4: delta\n5: epsilon ERROR two"
    assert answer(original, "zeta", "ok").startswith("No line of the original (5 lines)")
    assert "expired" in answer(None, None, "expired")
    assert answer(None, None, "forbidden") == answer(None, None, "unknown")  # an id's existence is not leaked


def test_each_fold_gets_its_own_id_answered_with_exactly_its_lines() -> None:
    original = "\n".join(f"line {n}" for n in range(1, 101))
    text = "line 1\n" + fold_note(49, "line") + "\nline 51\n" + fold_note(50, "line", "quiet")
    folds = (Fold(2, 50, fold_note(49, "line")), Fold(51, 100, fold_note(50, "line", "quiet")))
    marked = add_markers(text, ID, folds)
    assert f"[… 49 lines folded · retrieve id={ID}:2-50]" in marked
    assert f"[… 50 lines folded: quiet · retrieve id={ID}:51-100]" in marked
    assert marker_ids(marked) == [ID]  # the original's id: what the store keeps alive
    assert not NOTE_PATTERN.search(MARKER_ID.sub("", marked))
    original_id, fold_range = parse_fold_id(f"{ID}:2-50")
    assert (original_id, fold_range) == (ID, (2, 50))
    reply = answer(original, None, "ok", fold_range)
    assert reply.split("\n") == ["lines 2-50 of 100:", *(f"{n}: line {n}" for n in range(2, 51))]


def test_a_line_in_the_second_half_of_a_large_original_is_reachable_in_capped_parts() -> None:
    original = "\n".join(f"{n:06d} request handled by worker {n % 7} in {n % 97} ms" for n in range(1, 20_001))
    first = answer(original, None, "ok", None, ID)
    assert len(first) < MAX_ANSWER_TOKENS * 4 + 200  # capped by tokens, not 200,000 characters
    assert first.startswith("lines 1-") and "call again with lines=" in first
    asked = first.rsplit("lines=", 1)[1].split(" ", 1)[0]
    second = answer(original, None, "ok", tuple(map(int, asked.split("-"))), ID)
    assert second.startswith(f"lines {asked.split('-')[0]}-")
    assert "15000: 015000 request handled" in answer(original, None, "ok", (15_000, 15_010))
    assert answer(original, "worker 3 in 96 ms", "ok", (10_000, 20_000)).count("\n") < 400
