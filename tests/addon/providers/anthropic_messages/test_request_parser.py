"""Anthropic Messages: which strings are segments, and what is known about each."""

from __future__ import annotations

from typing import Any

import pytest

from addon.providers import UnknownShape
from addon.providers.anthropic_messages import AnthropicMessages
from addon.providers.provider import DOCUMENT_MIN_CHARS
from tests.addon.providers import check_paths

ADAPTER = AnthropicMessages()
BIG = "x" * DOCUMENT_MIN_CHARS


def tool_use(id_: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": id_, "name": name, "input": args}


def conversation() -> dict[str, Any]:
    """Two tool rounds: the first already answered by the model, the second fresh."""
    return {
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": "S" * DOCUMENT_MIN_CHARS}],
        "messages": [
            {"role": "user", "content": "fix the bug"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "T" * DOCUMENT_MIN_CHARS, "signature": "sig"},
                    {"type": "text", "text": "Reading."},
                    tool_use("toolu_A", "Read", {"file_path": "/src/a.py"}),
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_A", "content": "old output"}]},
            {
                "role": "assistant",
                "content": [
                    tool_use("toolu_B", "Bash", {"command": "pytest"}),
                    tool_use("toolu_C", "Grep", {"pattern": "TODO"}),
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_C",
                        "content": [
                            {"type": "text", "text": "grep part 1"},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                            {"type": "text", "text": "grep part 2"},
                        ],
                    },
                    {"type": "tool_result", "tool_use_id": "toolu_B", "content": "tests failed", "is_error": True},
                    {"type": "text", "text": "what now?"},
                ],
            },
        ],
    }


def test_matches_messages_paths() -> None:
    assert ADAPTER.matches("/v1/messages")
    assert ADAPTER.matches("/v1/messages/")
    assert ADAPTER.matches("/anthropic/v1/messages")
    assert not ADAPTER.matches("/v1/messages/count_tokens")
    assert not ADAPTER.matches("/v1/complete")


def test_segments_point_at_their_strings() -> None:
    body = conversation()
    parsed = ADAPTER.parse(body)
    check_paths(body, parsed)
    assert [s.path for s in parsed.segments] == [
        ("messages", 2, "content", 0, "content"),
        ("messages", 4, "content", 0, "content", 0, "text"),
        ("messages", 4, "content", 0, "content", 2, "text"),
        ("messages", 4, "content", 1, "content"),
    ]
    assert {s.source for s in parsed.segments} == {"tool_output"}


def test_tool_results_carry_their_tool_use() -> None:
    parsed = ADAPTER.parse(conversation())
    by_text = {s.text: s for s in parsed.segments}
    assert (by_text["old output"].tool_name, dict(by_text["old output"].tool_args)) == ("Read", {"file_path": "/src/a.py"})
    assert (by_text["grep part 2"].tool_name, dict(by_text["grep part 2"].tool_args)) == ("Grep", {"pattern": "TODO"})
    assert (by_text["tests failed"].tool_name, dict(by_text["tests failed"].tool_args)) == ("Bash", {"command": "pytest"})
    assert by_text["tests failed"].is_error
    assert not by_text["grep part 1"].is_error


def test_only_messages_after_the_last_assistant_turn_are_fresh() -> None:
    parsed = ADAPTER.parse(conversation())
    assert [(s.text, s.fresh) for s in parsed.segments] == [
        ("old output", False),
        ("grep part 1", True),
        ("grep part 2", True),
        ("tests failed", True),
    ]


def test_all_fresh_without_an_assistant_turn() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "out"}]}]}
    (segment,) = ADAPTER.parse(body).segments
    assert segment.fresh
    assert segment.tool_name is None and dict(segment.tool_args) == {}


def test_query_is_the_latest_user_text() -> None:
    assert ADAPTER.parse(conversation()).query == "what now?"
    body = conversation()
    body["messages"][4]["content"].pop()  # the last user turn now holds tool results only
    assert ADAPTER.parse(body).query == "fix the bug"
    body["messages"].append({"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})
    assert ADAPTER.parse(body).query == "a\nb"


def test_system_thinking_images_and_tool_use_give_no_segments() -> None:
    body = conversation()
    body["messages"][1]["content"][2]["input"] = {"content": BIG}
    body["messages"][4]["content"].append({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": BIG}})
    body["messages"][4]["content"].append({"type": "document", "source": {"type": "text", "data": BIG}})
    texts = {s.text for s in ADAPTER.parse(body).segments}
    assert texts == {"old output", "grep part 1", "grep part 2", "tests failed"}


def test_large_pasted_text_is_a_document() -> None:
    body = {
        "messages": [
            {"role": "user", "content": BIG},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "short"}, {"type": "text", "text": BIG + "y"}]},
            {"role": "user", "content": "z" * (DOCUMENT_MIN_CHARS - 1)},
        ]
    }
    parsed = ADAPTER.parse(body)
    check_paths(body, parsed)
    assert [(s.path, s.source, s.fresh) for s in parsed.segments] == [
        (("messages", 0, "content"), "document", False),
        (("messages", 2, "content", 1, "text"), "document", True),
    ]
    assert parsed.query == "z" * (DOCUMENT_MIN_CHARS - 1)


def test_tolerates_odd_but_valid_parts() -> None:
    body = {
        "messages": [
            "not a message",
            {"role": "user", "content": ["not a block", {"type": "tool_result", "tool_use_id": "q", "content": None}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "q", "content": [{"type": "text", "text": 5}]}]},
        ]
    }
    assert ADAPTER.parse(body).segments == []


@pytest.mark.parametrize("body", [[], "text", {}, {"messages": "hi"}, {"messages": {"role": "user"}}, {"prompt": "hi"}])
def test_unknown_shapes_raise(body: Any) -> None:
    with pytest.raises(UnknownShape):
        ADAPTER.parse(body)


def test_an_agent_tool_output_sent_as_a_user_message_is_a_tool_output() -> None:
    from addon.providers.anthropic_messages import AnthropicMessages

    output = "<returncode>0</returncode>\n<output>\nok\n</output>"
    body = {"messages": [
        {"role": "user", "content": "List the files"},
        {"role": "assistant", "content": [{"type": "text", "text": "```bash\nls -la\n```"}]},
        {"role": "user", "content": output},
    ]}  # fmt: skip
    parsed = AnthropicMessages().parse(body)
    [segment] = parsed.segments
    assert segment.path == ("messages", 2, "content") and segment.tool_args == {"command": "ls -la"}
    assert parsed.query == "List the files"
