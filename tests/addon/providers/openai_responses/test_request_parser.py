"""OpenAI Responses (and Codex): which strings are segments, and what is known about each."""

from __future__ import annotations

import json
from typing import Any

import pytest

from addon.providers import UnknownShape
from addon.providers.provider import DOCUMENT_MIN_CHARS
from addon.providers.openai_responses import OpenAIResponses
from tests.addon.providers import check_paths

ADAPTER = OpenAIResponses()
BIG = "x" * DOCUMENT_MIN_CHARS


def conversation() -> dict[str, Any]:
    return {
        "model": "gpt-5-codex",
        "instructions": "I" * DOCUMENT_MIN_CHARS,
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "D" * DOCUMENT_MIN_CHARS}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix the bug"}]},
            {"type": "reasoning", "summary": [], "encrypted_content": "E" * DOCUMENT_MIN_CHARS},
            {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": json.dumps({"command": ["cat", "a.py"]})},
            {"type": "function_call_output", "call_id": "c1", "output": "old output"},
            {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "function_call", "call_id": "c3", "name": "grep", "arguments": '{"pattern": "TODO"}'},
            {"type": "custom_tool_call_output", "call_id": "c2", "output": "patch applied"},
            {
                "type": "function_call_output",
                "call_id": "c3",
                "output": [
                    {"type": "input_text", "text": "grep part"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                ],
            },
            {"role": "user", "content": "what now?"},
        ],
    }


def test_matches_responses_paths() -> None:
    for path in ("/v1/responses", "/backend-api/codex/responses", "/openai/v1/responses/"):
        assert ADAPTER.matches(path), path
    assert not ADAPTER.matches("/v1/responses/resp_123")


def test_segments_point_at_their_strings() -> None:
    body = conversation()
    parsed = ADAPTER.parse(body)
    check_paths(body, parsed)
    assert [s.path for s in parsed.segments] == [
        ("input", 4, "output"),
        ("input", 7, "output"),
        ("input", 8, "output", 0, "text"),
    ]
    assert {s.source for s in parsed.segments} == {"tool_output"}


def test_outputs_carry_their_call() -> None:
    by_text = {s.text: s for s in ADAPTER.parse(conversation()).segments}
    assert (by_text["old output"].tool_name, dict(by_text["old output"].tool_args)) == ("shell", {"command": ["cat", "a.py"]})
    assert (by_text["patch applied"].tool_name, dict(by_text["patch applied"].tool_args)) == (
        "apply_patch",
        {"input": "*** Begin Patch"},
    )
    assert (by_text["grep part"].tool_name, dict(by_text["grep part"].tool_args)) == ("grep", {"pattern": "TODO"})


def test_only_items_after_the_last_model_item_are_fresh() -> None:
    parsed = ADAPTER.parse(conversation())
    # The last model item is the function_call at index 6.
    assert [(s.text, s.fresh) for s in parsed.segments] == [("old output", False), ("patch applied", True), ("grep part", True)]


def test_assistant_message_is_a_boundary() -> None:
    body = {
        "input": [
            {"type": "function_call_output", "call_id": "x", "output": "before"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]},
            {"type": "function_call_output", "call_id": "y", "output": "after"},
        ]
    }
    assert [(s.text, s.fresh, s.tool_name) for s in ADAPTER.parse(body).segments] == [("before", False, None), ("after", True, None)]


def test_query_is_the_latest_user_text() -> None:
    assert ADAPTER.parse(conversation()).query == "what now?"
    body = conversation()
    body["input"].pop()
    assert ADAPTER.parse(body).query == "fix the bug"


def test_string_input_is_the_query_alone() -> None:
    parsed = ADAPTER.parse({"input": BIG})
    assert parsed.segments == [] and parsed.query == BIG


def test_large_user_text_is_a_document_and_developer_text_is_not() -> None:
    body = {
        "input": [
            {"role": "developer", "content": BIG},
            {"role": "user", "content": BIG},
            {"type": "reasoning", "summary": []},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "short"}, {"type": "input_text", "text": BIG}]},
        ]
    }
    parsed = ADAPTER.parse(body)
    check_paths(body, parsed)
    assert [(s.path, s.source, s.fresh) for s in parsed.segments] == [
        (("input", 1, "content"), "document", False),
        (("input", 3, "content", 1, "text"), "document", True),
    ]
    assert parsed.query == "short\n" + BIG


@pytest.mark.parametrize("body", [[], {}, {"input": {"role": "user"}}, {"messages": []}, {"input": 5}])
def test_unknown_shapes_raise(body: Any) -> None:
    with pytest.raises(UnknownShape):
        ADAPTER.parse(body)
