"""Gemini generateContent: which strings are segments, and what is known about each."""

from __future__ import annotations

from typing import Any

import pytest

from addon.providers import UnknownShape
from addon.providers.provider import DOCUMENT_MIN_CHARS
from addon.providers.gemini import Gemini
from addon.providers.gemini.request_parser import LEAF_MIN_CHARS
from tests.addon.providers import check_paths

ADAPTER = Gemini()
BIG = "x" * DOCUMENT_MIN_CHARS
LONG = "L" * LEAF_MIN_CHARS


def fn_call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": args}}


def fn_response(name: str, response: Any) -> dict[str, Any]:
    return {"functionResponse": {"name": name, "response": response}}


def conversation() -> dict[str, Any]:
    return {
        "systemInstruction": {"parts": [{"text": "S" * DOCUMENT_MIN_CHARS}]},
        "contents": [
            {"role": "user", "parts": [{"text": "fix the bug"}]},
            {"role": "model", "parts": [fn_call("read_file", {"path": "a.py"})]},
            {"role": "user", "parts": [fn_response("read_file", {"content": "old " + LONG})]},
            {
                "role": "model",
                "parts": [
                    {"text": "T" * DOCUMENT_MIN_CHARS, "thought": True},
                    fn_call("shell", {"cmd": "ls"}),
                    fn_call("shell", {"cmd": "pytest"}),
                ],
            },
            {
                "role": "user",
                "parts": [
                    fn_response("shell", {"output": "ls " + LONG, "exit_code": 0, "short": "tiny"}),
                    fn_response("shell", {"result": {"lines": ["pytest " + LONG, "y" * (LEAF_MIN_CHARS - 1)]}}),
                    {"inlineData": {"mimeType": "image/png", "data": BIG}},
                    {"text": "what now?"},
                ],
            },
        ],
    }


def test_matches_generate_content_paths() -> None:
    assert ADAPTER.matches("/v1beta/models/gemini-2.5-pro:generateContent")
    assert ADAPTER.matches("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
    assert not ADAPTER.matches("/v1beta/models/gemini-2.5-pro:countTokens")
    assert not ADAPTER.matches("/v1beta/models")


def test_segments_point_at_long_string_leaves() -> None:
    body = conversation()
    parsed = ADAPTER.parse(body)
    check_paths(body, parsed)
    assert [s.path for s in parsed.segments] == [
        ("contents", 2, "parts", 0, "functionResponse", "response", "content"),
        ("contents", 4, "parts", 0, "functionResponse", "response", "output"),
        ("contents", 4, "parts", 1, "functionResponse", "response", "result", "lines", 0),
    ]
    assert {s.source for s in parsed.segments} == {"tool_output"}


def test_responses_carry_their_call_in_order() -> None:
    # Two calls to the same function: responses take their arguments first come, first served.
    segments = ADAPTER.parse(conversation()).segments
    assert [(s.tool_name, dict(s.tool_args)) for s in segments] == [
        ("read_file", {"path": "a.py"}),
        ("shell", {"cmd": "ls"}),
        ("shell", {"cmd": "pytest"}),
    ]


def test_only_contents_after_the_last_model_turn_are_fresh() -> None:
    assert [s.fresh for s in ADAPTER.parse(conversation()).segments] == [False, True, True]


def test_query_is_the_latest_user_text() -> None:
    assert ADAPTER.parse(conversation()).query == "what now?"
    body = conversation()
    body["contents"][4]["parts"].pop()
    assert ADAPTER.parse(body).query == "fix the bug"


def test_large_user_text_is_a_document_and_model_text_is_not() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": BIG}]},
            {"role": "model", "parts": [{"text": BIG}]},
            {"parts": [{"text": "short"}, {"text": BIG}]},  # role may be omitted for user turns
        ]
    }
    parsed = ADAPTER.parse(body)
    check_paths(body, parsed)
    assert [(s.path, s.source, s.fresh) for s in parsed.segments] == [
        (("contents", 0, "parts", 0, "text"), "document", False),
        (("contents", 2, "parts", 1, "text"), "document", True),
    ]
    assert parsed.query == "short\n" + BIG


def test_unmatched_response_has_no_arguments() -> None:
    body = {"contents": [{"role": "user", "parts": [fn_response("lookup", LONG)]}]}
    (segment,) = ADAPTER.parse(body).segments
    assert segment.path == ("contents", 0, "parts", 0, "functionResponse", "response")
    assert (segment.tool_name, dict(segment.tool_args), segment.fresh) == ("lookup", {}, True)


@pytest.mark.parametrize("body", [[], {}, {"contents": {"parts": []}}, {"messages": []}])
def test_unknown_shapes_raise(body: Any) -> None:
    with pytest.raises(UnknownShape):
        ADAPTER.parse(body)
