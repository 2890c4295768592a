"""OpenAI Chat Completions: which strings are segments, and what is known about each."""

from __future__ import annotations

import json
from typing import Any

import pytest

from addon.providers import UnknownShape
from addon.providers.provider import DOCUMENT_MIN_CHARS
from addon.providers.openai_chat import OpenAIChat
from tests.addon.providers import check_paths

ADAPTER = OpenAIChat()
BIG = "x" * DOCUMENT_MIN_CHARS


def call(id_: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


def conversation() -> dict[str, Any]:
    return {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "S" * DOCUMENT_MIN_CHARS},
            {"role": "developer", "content": [{"type": "text", "text": "D" * DOCUMENT_MIN_CHARS}]},
            {"role": "user", "content": "fix the bug"},
            {"role": "assistant", "content": None, "tool_calls": [call("call_1", "read_file", json.dumps({"path": "a.py"}))]},
            {"role": "tool", "tool_call_id": "call_1", "content": "old output"},
            {
                "role": "assistant",
                "content": "running both",
                "tool_calls": [call("call_2", "shell", '{"cmd": ["pytest", "-q"]}'), call("call_3", "echo", "not json")],
            },
            {"role": "tool", "tool_call_id": "call_3", "content": [{"type": "text", "text": "echo part"}]},
            {"role": "tool", "tool_call_id": "call_2", "content": "tests failed"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what now?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + BIG}},
                ],
            },
        ],
    }


def test_matches_chat_completions_on_any_prefix() -> None:
    for path in ("/v1/chat/completions", "/openai/v1/chat/completions", "/api/v1/chat/completions/", "/chat/completions"):
        assert ADAPTER.matches(path), path
    assert not ADAPTER.matches("/v1/completions")
    assert not ADAPTER.matches("/v1/chat/completions/abc")


def test_segments_point_at_their_strings() -> None:
    body = conversation()
    parsed = ADAPTER.parse(body)
    check_paths(body, parsed)
    assert [s.path for s in parsed.segments] == [
        ("messages", 4, "content"),
        ("messages", 6, "content", 0, "text"),
        ("messages", 7, "content"),
    ]
    assert {s.source for s in parsed.segments} == {"tool_output"}


def test_tool_messages_carry_their_call_with_parsed_arguments() -> None:
    by_text = {s.text: s for s in ADAPTER.parse(conversation()).segments}
    assert (by_text["old output"].tool_name, dict(by_text["old output"].tool_args)) == ("read_file", {"path": "a.py"})
    assert (by_text["tests failed"].tool_name, dict(by_text["tests failed"].tool_args)) == ("shell", {"cmd": ["pytest", "-q"]})
    # Arguments that are not JSON still reach the compressor, under "input".
    assert (by_text["echo part"].tool_name, dict(by_text["echo part"].tool_args)) == ("echo", {"input": "not json"})


def test_unmatched_tool_message_falls_back_to_its_name() -> None:
    body = {"messages": [{"role": "function", "name": "legacy_fn", "content": "out"}, {"role": "tool", "tool_call_id": "nope", "content": "o2"}]}
    parsed = ADAPTER.parse(body)
    assert [(s.tool_name, dict(s.tool_args)) for s in parsed.segments] == [("legacy_fn", {}), (None, {})]


def test_only_messages_after_the_last_assistant_turn_are_fresh() -> None:
    parsed = ADAPTER.parse(conversation())
    assert [(s.text, s.fresh) for s in parsed.segments] == [("old output", False), ("echo part", True), ("tests failed", True)]


def test_query_is_the_latest_user_text() -> None:
    assert ADAPTER.parse(conversation()).query == "what now?"
    body = conversation()
    body["messages"].pop()
    assert ADAPTER.parse(body).query == "fix the bug"


def test_large_user_text_is_a_document_and_system_text_is_not() -> None:
    body = {
        "messages": [
            {"role": "system", "content": BIG},
            {"role": "user", "content": BIG},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "short"}, {"type": "text", "text": BIG}]},
            {"role": "user", "content": "y" * (DOCUMENT_MIN_CHARS - 1)},
        ]
    }
    parsed = ADAPTER.parse(body)
    check_paths(body, parsed)
    assert [(s.path, s.source, s.fresh) for s in parsed.segments] == [
        (("messages", 1, "content"), "document", False),
        (("messages", 3, "content", 1, "text"), "document", True),
    ]


def test_assistant_text_and_tool_call_arguments_give_no_segments() -> None:
    body = {"messages": [{"role": "assistant", "content": BIG, "tool_calls": [call("c", "write", json.dumps({"content": BIG}))]}]}
    assert ADAPTER.parse(body).segments == []


@pytest.mark.parametrize("body", [[], None, {}, {"messages": "hi"}, {"input": []}])
def test_unknown_shapes_raise(body: Any) -> None:
    with pytest.raises(UnknownShape):
        ADAPTER.parse(body)


def test_an_agent_tool_output_sent_as_a_user_message_is_a_tool_output() -> None:
    """mini-swe-agent sends outputs as user turns wrapped in <returncode>/<output>."""
    from addon.providers.openai_chat import OpenAIChat

    output = "<returncode>1</returncode>\n<output>\nTraceback (most recent call last):\nValueError: bad\n</output>"
    body = {"messages": [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": "Fix the urlize bug"},
        {"role": "assistant", "content": "THOUGHT: run it\n\n```bash\npython reproduce.py\n```"},
        {"role": "user", "content": output},
    ]}  # fmt: skip
    parsed = OpenAIChat().parse(body)
    [segment] = parsed.segments
    assert segment.path == ("messages", 3, "content") and segment.source == "tool_output" and segment.fresh
    assert segment.tool_name == "bash" and segment.tool_args == {"command": "python reproduce.py"}
    assert parsed.query == "Fix the urlize bug"
