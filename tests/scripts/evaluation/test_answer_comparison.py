"""answer_comparison: verdicts, tool arguments exact and field by field, text similarity."""

from __future__ import annotations

from scripts.evaluation.answer_comparison import argument_share, compare
from scripts.evaluation.answers import Answer, ToolCall
from scripts.evaluation.text_similarity import difflib_ratio


def same(a: str, b: str) -> float:
    return 1.0 if a == b else difflib_ratio(a, b)


def test_equal_calls_agree_and_share_every_field():
    call = (ToolCall("Read", {"path": "a.py", "limit": 10}),)
    c = compare(Answer("tool_use", call), Answer("tool_use", call), same)
    assert c.verdict == "agree" and c.arguments_equal and c.argument_share == 1.0 and c.text_similarity is None


def test_one_differing_field_differs_with_a_partial_share():
    a = Answer("tool_use", (ToolCall("Read", {"path": "a.py", "limit": 10}),))
    b = Answer("tool_use", (ToolCall("Read", {"path": "b.py", "limit": 10}),))
    c = compare(a, b, same)
    assert c.verdict == "differ" and c.same_tools and not c.arguments_equal and c.argument_share == 0.5


def test_text_below_the_threshold_differs_and_above_agrees():
    assert compare(Answer("end_turn", text="the bug is in billing.py"), Answer("end_turn", text="no idea"), same).verdict == "differ"
    assert compare(Answer("end_turn", text="the bug is in billing.py"), Answer("end_turn", text="the bug is in billing.py."), same).verdict == "agree"
    assert not compare(Answer("end_turn", text="x"), Answer("max_tokens", text="x"), same).same_stop


def test_a_retrieve_call_on_the_compressed_side_is_its_own_verdict():
    a = Answer("tool_use", (ToolCall("Read", {"path": "a.py"}),))
    b = Answer("tool_use", (ToolCall("headroom_retrieve", {"id": "abc"}),))
    c = compare(a, b, same, retrieve_tool="headroom_retrieve")
    assert c.verdict == "retrieve" and c.retrieved and not c.same_tools
    # without a retrieve tool in the forwarded body, a tool of that name is the client's own
    assert not compare(a, b, same).retrieved


def test_argument_share_pairs_calls_in_order():
    assert argument_share([], []) is None
    assert argument_share([ToolCall("a", {})], [ToolCall("a", {})]) == 1.0
    assert argument_share([ToolCall("a", {"x": 1}), ToolCall("b", {})], [ToolCall("a", {"x": 1})]) == 0.5
