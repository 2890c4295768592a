"""The proxy answers `headroom_retrieve` itself: the SDK client sees only the final answer."""

from __future__ import annotations

import json
import re

import anthropic
import openai

from tests.e2e.test_prefix_stability import messages_prefix
from tests.support.mock_provider import Received, Reply, anthropic_reply, anthropic_retrieving_model

MARKER = re.compile(r"retrieve id=([0-9a-f]{24})")
FOLD_MARKER = re.compile(r"retrieve id=([0-9a-f]{24}:(\d+)-(\d+))")


def check_fold_answer(answer: str, original: str, first: int, last: int) -> None:
    """A fold's own id (or a `lines` range) is answered with exactly those lines of the
    original, numbered; a long range in capped parts, the first saying which range comes next."""
    lines = original.split("\n")
    head, *body = answer.split("\n")
    shown_first, shown_last = map(int, head.removeprefix("lines ").split(" of ")[0].split("-"))
    assert head == f"lines {shown_first}-{shown_last} of {len(lines):,}:" and shown_first == first and shown_last <= last
    if shown_last < last:
        assert body.pop().startswith(f"[… lines {shown_last + 1}-{last} follow; call again with lines={shown_last + 1}-{last}")
    assert body == [f"{n}: {lines[n - 1]}" for n in range(first, shown_last + 1)]
FAILING = "FAILED tests/test_billing.py::test_refund_rounding - AssertionError: 10.05 != 10.5"
HIDDEN = "tests/test_billing.py::test_invoice_total_0137 PASSED"


def verbose_pytest() -> str:
    """Verbose pytest output: hundreds of passing lines (folded, lossy) and one failure."""
    lines = ["============================= test session starts ==============================", "collected 401 items", ""]
    lines += [f"tests/test_billing.py::test_invoice_total_{i:04d} PASSED{' ' * 20}[{i * 100 // 401:3d}%]" for i in range(400)]
    lines += ["", "=================================== FAILURES ===================================", "_____ test_refund_rounding _____", "",
              "    def test_refund_rounding():", ">       assert refund(10.05) == 10.5", "E       AssertionError: 10.05 != 10.5", "",
              "tests/test_billing.py:88: AssertionError", "=========================== short test summary info ============================",
              FAILING, "======================== 1 failed, 400 passed in 3.21s ========================="]  # fmt: skip
    return "\n".join(lines)


def anthropic_messages(output: str) -> list[dict]:
    return [
        {"role": "user", "content": "fix the failing billing test"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "pytest -v"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": output}]},
    ]


def tool_results(request: Received) -> list[str]:
    out = []
    for message in request.json.get("messages", []):
        if isinstance(message.get("content"), list):
            out += [b["content"] for b in message["content"] if b.get("type") == "tool_result" and isinstance(b.get("content"), str)]
        if message.get("role") == "tool":
            out.append(message["content"])
    return out


def anthropic_script(then: str = "final"):
    """First call: ask for the original named by the marker; on the follow-up: answer."""

    return anthropic_retrieving_model("toolu_r1", f"{then}: fixed test_refund_rounding", False, query="test_invoice_total_0137", first_text="Let me look.")


def test_anthropic_non_streaming_retrieve_is_answered_by_the_proxy(proxy, mock, monkeypatch):
    mock.responder = anthropic_script()
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-owner-a", max_retries=0)
        message = client.messages.create(model="claude-test", max_tokens=64, messages=anthropic_messages(verbose_pytest()))
    # the client sees only the final answer, never the tool
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "final: fixed test_refund_rounding"
    assert message.usage.input_tokens == 200 and message.usage.output_tokens == 40  # both rounds
    first, follow_up = mock.llm_requests()
    # the first request went out compressed, with markers and the tool
    sent = tool_results(first)[0]
    assert FAILING in sent and HIDDEN not in sent and MARKER.search(sent)
    assert [t["name"] for t in first.json["tools"]] == ["headroom_retrieve"]
    # the follow-up extends the forwarded body byte for byte and carries the original's lines
    assert follow_up.raw.startswith(messages_prefix(first.raw))
    answer = tool_results(follow_up)[-1]
    assert HIDDEN in answer and answer.startswith("1 matching lines of")


def test_openai_non_streaming_retrieve_is_answered_by_the_proxy(proxy, mock, monkeypatch):
    def respond(request: Received) -> Reply | None:
        messages = request.json["messages"]
        if messages[-1]["role"] == "tool" and messages[-1].get("tool_call_id") == "call_r1":
            return Reply(json=_chat({"role": "assistant", "content": "done"}, "stop"))
        marker_id = FOLD_MARKER.search(json.dumps(request.json)).group(1)  # a fold's own id
        call = {"id": "call_r1", "type": "function", "function": {"name": "headroom_retrieve", "arguments": json.dumps({"id": marker_id})}}
        return Reply(json=_chat({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"))

    mock.responder = respond
    messages = [
        {"role": "user", "content": "fix the failing billing test"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "shell", "arguments": json.dumps({"command": "pytest -v"})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": verbose_pytest()},
    ]  # fmt: skip
    with proxy.client_env(monkeypatch):
        client = openai.OpenAI(api_key="sk-owner-a", max_retries=0)
        response = client.chat.completions.create(model="gpt-test", messages=messages)
    assert response.choices[0].message.content == "done" and not response.choices[0].message.tool_calls
    assert response.usage.prompt_tokens == 200
    first, follow_up = mock.llm_requests()
    assert first.json["tools"][0]["function"]["name"] == "headroom_retrieve"
    _, a, b = FOLD_MARKER.search(json.dumps(first.json)).groups()
    check_fold_answer(tool_results(follow_up)[-1], verbose_pytest(), int(a), int(b))  # exactly the fold's lines


def _chat(message: dict, finish: str) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}  # fmt: skip


def test_unknown_id_gets_a_clear_tool_result(proxy, mock, monkeypatch):
    def respond(request: Received) -> Reply | None:
        last = request.json["messages"][-1]
        if isinstance(last.get("content"), list) and any(b.get("tool_use_id") == "toolu_x" for b in last["content"]):
            return anthropic_reply([{"type": "text", "text": "ok"}], "end_turn", False)
        call = {"type": "tool_use", "id": "toolu_x", "name": "headroom_retrieve", "input": {"id": "0" * 24}}
        return anthropic_reply([call], "tool_use", False)

    mock.responder = respond
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-owner-a", max_retries=0)
        message = client.messages.create(model="claude-test", max_tokens=64, messages=anthropic_messages(verbose_pytest()))
    assert message.content[0].text == "ok"
    assert "expired" in tool_results(mock.llm_requests()[-1])[-1]


def test_another_keys_original_is_refused(proxy, mock, monkeypatch):
    mock.responder = anthropic_script()
    with proxy.client_env(monkeypatch):
        anthropic.Anthropic(api_key="sk-ant-owner-a", max_retries=0).messages.create(
            model="claude-test", max_tokens=64, messages=anthropic_messages(verbose_pytest())
        )
    [stolen_id] = set(MARKER.findall(json.dumps(mock.llm_requests()[0].json)))
    mock.received.clear()

    def respond(request: Received) -> Reply | None:
        last = request.json["messages"][-1]
        if isinstance(last.get("content"), list) and any(b.get("tool_use_id") == "toolu_s" for b in last["content"]):
            return anthropic_reply([{"type": "text", "text": "ok"}], "end_turn", False)
        return anthropic_reply([{"type": "tool_use", "id": "toolu_s", "name": "headroom_retrieve", "input": {"id": stolen_id}}], "tool_use", False)

    mock.responder = respond
    other = verbose_pytest().replace("billing", "shipping")
    with proxy.client_env(monkeypatch):
        anthropic.Anthropic(api_key="sk-ant-owner-b", max_retries=0).messages.create(
            model="claude-test", max_tokens=64, messages=anthropic_messages(other)
        )
    answer = tool_results(mock.llm_requests()[-1])[-1]
    assert "expired or the id is unknown" in answer and HIDDEN not in answer  # the same as for an unknown id


def test_a_model_that_keeps_calling_retrieve_is_stopped(proxy, mock, monkeypatch):
    def respond(request: Received) -> Reply | None:
        [marker_id] = set(MARKER.findall(json.dumps(request.json["messages"][2])))
        n = len(request.json["messages"])
        call = {"type": "tool_use", "id": f"toolu_loop{n}", "name": "headroom_retrieve", "input": {"id": marker_id}}
        return anthropic_reply([call], "tool_use", False)

    mock.responder = respond
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-owner-a", max_retries=0)
        message = client.messages.create(model="claude-test", max_tokens=64, messages=anthropic_messages(verbose_pytest()))
    assert len(mock.llm_requests()) == 6  # the first request and 5 follow-ups
    assert [b.type for b in message.content] == ["text"] and "retrieval limit" in message.content[0].text
    assert message.stop_reason == "end_turn"


def test_mixed_turn_follow_up_carries_only_the_retrieve_call(proxy, mock, monkeypatch):
    def respond(request: Received) -> Reply | None:
        last = request.json["messages"][-1]
        if isinstance(last.get("content"), list) and any(b.get("tool_use_id") == "toolu_m" for b in last["content"]):
            return anthropic_reply([{"type": "tool_use", "id": "toolu_edit", "name": "Edit", "input": {"file_path": "billing.py"}}], "tool_use", False)
        [marker_id] = set(MARKER.findall(json.dumps(request.json)))
        blocks = [
            {"type": "tool_use", "id": "toolu_read", "name": "Read", "input": {"file_path": "billing.py"}},
            {"type": "tool_use", "id": "toolu_m", "name": "headroom_retrieve", "input": {"id": marker_id}},
        ]
        return anthropic_reply(blocks, "tool_use", False)

    mock.responder = respond
    tools = [{"name": "Read", "input_schema": {"type": "object"}}, {"name": "Edit", "input_schema": {"type": "object"}}]
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-owner-a", max_retries=0)
        message = client.messages.create(model="claude-test", max_tokens=64, tools=tools, messages=anthropic_messages(verbose_pytest()))
    assert [(b.type, b.name) for b in message.content] == [("tool_use", "Edit")]
    first, follow_up = mock.llm_requests()
    assert [t["name"] for t in first.json["tools"]] == ["Read", "Edit", "headroom_retrieve"]
    assistant = follow_up.json["messages"][-2]
    assert [b["name"] for b in assistant["content"] if b["type"] == "tool_use"] == ["headroom_retrieve"]


def test_client_tool_of_the_same_name_gets_a_distinct_retrieve_tool(proxy, mock, monkeypatch):
    tools = [{"name": "headroom_retrieve", "description": "the client's own", "input_schema": {"type": "object"}}]
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-owner-a", max_retries=0)
        client.messages.create(model="claude-test", max_tokens=64, tools=tools, messages=anthropic_messages(verbose_pytest()))
    [first] = mock.llm_requests()
    assert [t["name"] for t in first.json["tools"]] == ["headroom_retrieve", "headroom_retrieve_2"]


def test_no_marker_without_a_retrieve_path(proxy, mock, monkeypatch):
    """tool_choice none forbids tool calls: only lossless compression, no tool added."""
    with proxy.client_env(monkeypatch):
        client = openai.OpenAI(api_key="sk-owner-a", max_retries=0)
        messages = [
            {"role": "user", "content": "summarise"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "shell", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": verbose_pytest() + "\n"},
        ]  # fmt: skip
        tools = [{"type": "function", "function": {"name": "shell", "parameters": {"type": "object"}}}]
        client.chat.completions.create(model="gpt-test", messages=messages, tools=tools, tool_choice="none")
    [seen] = mock.llm_requests()
    assert "retrieve id=" not in seen.body.decode() and len(seen.json["tools"]) == 1


def streamed_retrieving_model(call_id: str, first_text: str, final_text: str):
    """A mock model that streams `first_text` and a retrieve call for the marker it was sent,
    then, given the answer, streams `final_text`."""

    return anthropic_retrieving_model(call_id, final_text, True, query="0137", first_text=first_text)


def test_anthropic_streaming_retrieve_is_spliced_into_one_stream(proxy, mock, monkeypatch):
    mock.responder = streamed_retrieving_model("toolu_s1", "Checking the folded tests.", "The refund rounds 10.05 wrongly.")
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-owner-a", max_retries=0)
        with client.messages.stream(model="claude-test", max_tokens=64, messages=anthropic_messages(verbose_pytest())) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "text"]
    assert final.content[0].text == "Checking the folded tests." and final.content[1].text == "The refund rounds 10.05 wrongly."
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 40
    assert kinds.count("message_start") == 1 and kinds[-1] == "message_stop"
    first, follow_up = mock.llm_requests()
    assert first.json["stream"] is True and [t["name"] for t in first.json["tools"]] == ["headroom_retrieve"]
    assert HIDDEN in tool_results(follow_up)[-1]
    assert follow_up.raw.startswith(messages_prefix(first.raw))


def test_openai_streaming_retrieve_is_spliced_into_one_stream(proxy, mock, monkeypatch):
    from tests.support.mock_provider import _chat_chunk

    def respond(request: Received) -> Reply | None:
        messages = request.json["messages"]
        if messages[-1].get("tool_call_id") == "call_s1":
            return None  # the follow-up: the default streamed text answer
        [marker_id] = set(MARKER.findall(json.dumps(request.json)))  # the original's id, with a range of it
        arguments = json.dumps({"id": marker_id, "lines": "5-9"})
        call = {"index": 0, "id": "call_s1", "type": "function", "function": {"name": "headroom_retrieve", "arguments": arguments}}
        events = [(None, _chat_chunk({"role": "assistant", "content": None, "tool_calls": [call]}, None)), (None, _chat_chunk({}, "tool_calls")), (None, "[DONE]")]
        return Reply(events=events)

    mock.responder = respond
    messages = [
        {"role": "user", "content": "fix the failing billing test"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "shell", "arguments": json.dumps({"command": "pytest -v"})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": verbose_pytest()},
    ]  # fmt: skip
    with proxy.client_env(monkeypatch):
        client = openai.OpenAI(api_key="sk-owner-a", max_retries=0)
        chunks = list(client.chat.completions.create(model="gpt-test", messages=messages, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    first, follow_up = mock.llm_requests()
    assert text == f"mock received {len(follow_up.body)} bytes"
    check_fold_answer(tool_results(follow_up)[-1], verbose_pytest(), 5, 9)  # the `lines` asked for


def test_streamed_retrievals_keep_the_client_connection_open(proxy, mock, monkeypatch):
    """The loopback responder keeps its connection alive: a `connection: close` from it would
    reach the client, which would pay a new CONNECT and TLS handshake before every request."""

    mock.responder = streamed_retrieving_model("toolu_k1", "Looking.", "found it")
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-owner-a", max_retries=0)
        for _ in range(2):  # the second request reuses the proxy's connection to the responder too
            with client.messages.stream(model="claude-test", max_tokens=64, messages=anthropic_messages(verbose_pytest())) as stream:
                final = stream.get_final_message()
                assert "close" not in stream.response.headers.get("connection", "").lower()
            assert [b.text for b in final.content] == ["Looking.", "found it"]
    assert len(mock.llm_requests()) == 4
