"""answers: each API's answer as stop reason, tool calls and text."""

from __future__ import annotations

from scripts.evaluation.answers import Answer, ToolCall, answer_of


def test_anthropic():
    document = {"stop_reason": "tool_use", "content": [{"type": "text", "text": "Let me "}, {"type": "thinking", "thinking": "x"},
                {"type": "text", "text": "look."}, {"type": "tool_use", "name": "Read", "input": {"path": "a.py"}}]}  # fmt: skip
    assert answer_of("anthropic", document) == Answer("tool_use", (ToolCall("Read", {"path": "a.py"}),), "Let me look.")


def test_openai_chat_parses_string_arguments():
    call = {"id": "c", "type": "function", "function": {"name": "shell", "arguments": '{"command": "ls"}'}}
    document = {"choices": [{"message": {"content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}]}
    assert answer_of("openai_chat", document) == Answer("tool_calls", (ToolCall("shell", {"command": "ls"}),), "")
    assert answer_of("openai_chat", {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}).text == "hi"


def test_openai_responses_stop_is_status_reason_or_tool_call():
    message = {"type": "message", "content": [{"type": "output_text", "text": "done"}]}
    call = {"type": "function_call", "name": "shell", "arguments": '{"cmd": "ls"}'}
    assert answer_of("openai_responses", {"status": "completed", "output": [message]}) == Answer("completed", (), "done")
    assert answer_of("openai_responses", {"status": "completed", "output": [call]}).stop == "tool_call"
    cut = {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": [message]}
    assert answer_of("openai_responses", cut).stop == "incomplete:max_output_tokens"


def test_gemini_and_its_code_assist_wrapper_skip_thoughts():
    candidate = {"content": {"parts": [{"text": "plan", "thought": True}, {"text": "ok"}, {"functionCall": {"name": "f", "args": {"a": 1}}}]}, "finishReason": "STOP"}
    expected = Answer("STOP", (ToolCall("f", {"a": 1}),), "ok")
    assert answer_of("gemini", {"candidates": [candidate]}) == expected
    assert answer_of("gemini", {"response": {"candidates": [candidate]}, "traceId": "t"}) == expected


def test_not_an_object_is_an_empty_answer():
    assert answer_of("anthropic", [1, 2]) == Answer(None)
