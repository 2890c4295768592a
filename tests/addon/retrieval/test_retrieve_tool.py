"""The retrieve tool: definitions, the one marker format (round trip), and answers."""

from __future__ import annotations

import json

import pytest

from addon.retrieval.retrieve_tool import MARKER_ID, TOOL_NAME, add_markers, answer, marker_ids, unique_name
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
    assert answer(original, None, "ok") == original
    assert answer(original, "error", "ok") == "2 matching lines of 5:\n1: alpha\n2: beta ERROR one\n3: gamma\n4: delta\n5: epsilon ERROR two"
    assert answer(original, "zeta", "ok").startswith("No line of the original (5 lines)")
    assert "expired" in answer(None, None, "expired")
    assert "another user" in answer(None, None, "forbidden") and "alpha" not in answer(None, None, "forbidden")
