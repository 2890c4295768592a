"""Stream splicing: retrieve rounds answered by the proxy, one well-formed message for the client.

The event sequences are the providers' real shapes (tests/support/mock_provider.py and builders
here); the two-round results are read back by the official SDKs' own stream decoders.
"""

from __future__ import annotations

import json
import random
from typing import Any

import anthropic
import httpx
import openai
import pytest

from addon.wire.sse_events import SseEvent, SseParser, format_event
from addon.providers.anthropic_messages.stream_splicer import AnthropicSplicer
from addon.providers.openai_chat.stream_splicer import OpenAIChatSplicer
from addon.retrieval.stream_splicer import RoundResult
from tests.support.mock_provider import anthropic_reply, text_reply

TOOL = "headroom_retrieve"
REF = "0123456789abcdef01234567"


# ---------------------------------------------------------------- stream builders


def sse(events: list[tuple[str | None, Any]], newline: str = "\n", compact: bool = False) -> bytes:
    """Events as the mock provider writes them (compact: as the real APIs write JSON)."""
    out = []
    for name, data in events:
        if data is None:  # a comment / keepalive line
            out.append(f": {name}{newline}{newline}")
            continue
        payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":") if compact else None)
        out.append((f"event: {name}{newline}" if name else "") + f"data: {payload}{newline}{newline}")
    return "".join(out).encode()


def anthropic_events(
    content: list[dict], stop_reason: str, *, input_tokens: int = 100, output_tokens: int = 20, msg_id: str = "msg_1", piece: int = 7
) -> list[tuple[str | None, Any]]:
    """An Anthropic stream with text, thinking and tool_use blocks, a ping, tool input in pieces."""
    start = {
        "id": msg_id, "type": "message", "role": "assistant", "model": "claude-test", "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 50, "output_tokens": 1},
    }  # fmt: skip
    events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": start}), ("ping", {"type": "ping"})]

    def delta(i: int, d: dict) -> tuple[str, dict]:
        return ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d})

    for i, block in enumerate(content):
        if block["type"] == "text":
            events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}))
            words = block["text"].split(" ")
            events += [delta(i, {"type": "text_delta", "text": w + (" " if n < len(words) - 1 else "")}) for n, w in enumerate(words)]
        elif block["type"] == "thinking":
            events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}))
            events.append(delta(i, {"type": "thinking_delta", "thinking": block["thinking"]}))
            events.append(delta(i, {"type": "signature_delta", "signature": block["signature"]}))
        else:
            events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": {**block, "input": {}}}))
            text = json.dumps(block["input"])
            events.append(delta(i, {"type": "input_json_delta", "partial_json": ""}))
            events += [delta(i, {"type": "input_json_delta", "partial_json": text[k : k + piece]}) for k in range(0, len(text), piece)]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None}, "usage": {"output_tokens": output_tokens}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def retrieve_use(call_id: str = "toolu_r1", ref: str = REF, query: str | None = "timeout", name: str = TOOL) -> dict:
    args: dict[str, Any] = {"id": ref}
    if query is not None:
        args["query"] = query
    return {"type": "tool_use", "id": call_id, "name": name, "input": args}


def chat_chunk(delta: dict, finish: str | None = None, *, cid: str = "chatcmpl-1", created: int = 1700000000, usage: Any = ..., choices: bool = True) -> dict:
    chunk: dict[str, Any] = {
        "id": cid, "object": "chat.completion.chunk", "created": created, "model": "gpt-test", "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
    }  # fmt: skip
    if usage is not ...:
        chunk["usage"] = usage
    return chunk


def chat_events(
    text: str | None,
    calls: list[tuple[str, str, dict]] = (),  # type: ignore[assignment]
    finish: str = "stop",
    *,
    cid: str = "chatcmpl-1",
    created: int = 1700000000,
    usage: dict | None = None,
    piece: int = 5,
) -> list[tuple[str | None, Any]]:
    """A chat.completion.chunk stream; with `usage` as `stream_options.include_usage` makes it."""
    u: Any = None if usage is not None else ...
    chunks = [chat_chunk({"role": "assistant", "content": "", "refusal": None}, cid=cid, created=created, usage=u)]
    if text:
        words = text.split(" ")
        chunks += [chat_chunk({"content": w + (" " if n < len(words) - 1 else "")}, cid=cid, created=created, usage=u) for n, w in enumerate(words)]
    for i, (call_id, name, args) in enumerate(calls):
        head = {"index": i, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        chunks.append(chat_chunk({"tool_calls": [head]}, cid=cid, created=created, usage=u))
        raw = json.dumps(args)
        chunks += [chat_chunk({"tool_calls": [{"index": i, "function": {"arguments": raw[k : k + piece]}}]}, cid=cid, created=created, usage=u) for k in range(0, len(raw), piece)]
    chunks.append(chat_chunk({}, finish, cid=cid, created=created, usage=u))
    if usage is not None:
        chunks.append(chat_chunk({}, cid=cid, created=created, usage=usage, choices=False))
    return [(None, c) for c in chunks] + [(None, "[DONE]")]


def usage(prompt: int, completion: int, cached: int = 0) -> dict:
    return {
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached}, "completion_tokens_details": {"reasoning_tokens": 0},
    }  # fmt: skip


# ---------------------------------------------------------------- driving a splicer


def cut(data: bytes, rng: random.Random) -> list[bytes]:
    """Random chunks: single bytes (mid-CRLF, mid-UTF-8) up to whole events."""
    chunks, pos = [], 0
    while pos < len(data):
        size = rng.choice([1, 2, 3, rng.randint(1, 40), rng.randint(1, 400)])
        chunks.append(data[pos : pos + size])
        pos += size
    return chunks


def feed_round(splicer, stream: bytes, rng: random.Random | None = None) -> list[bytes]:
    parser = SseParser()
    out: list[bytes] = []
    for chunk in cut(stream, rng) if rng else [stream]:
        out += splicer.feed(parser.feed(chunk))
    out += splicer.feed(parser.close())
    return out


def splice(splicer, streams: list[bytes], rng: random.Random | None = None) -> tuple[bytes, list[RoundResult]]:
    """Run the rounds the way the addon will: the client gets one stream."""
    out: list[bytes] = []
    results = []
    for stream in streams:
        splicer.start_round()
        out += feed_round(splicer, stream, rng)
        results.append(splicer.finish_round())
    out += splicer.final_events()
    return b"".join(out), results


def events_of(stream: bytes) -> list[dict]:
    return [json.loads(e.data) for e in SseParser().feed(stream) if e.data is not None and e.data != "[DONE]"]


def anthropic_client(stream: bytes) -> anthropic.Anthropic:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream))
    return anthropic.Anthropic(api_key="test", base_url="http://anthropic.test", http_client=httpx.Client(transport=transport), max_retries=0)


def sdk_message(stream: bytes) -> anthropic.types.Message:
    client = anthropic_client(stream)
    with client.messages.stream(model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as s:
        return s.get_final_message()


def openai_client(stream: bytes) -> openai.OpenAI:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream))
    return openai.OpenAI(api_key="test", base_url="http://openai.test/v1", http_client=httpx.Client(transport=transport), max_retries=0)


def sdk_chunks(stream: bytes) -> list:
    client = openai_client(stream)
    return list(client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}], stream=True))


def sdk_completion(stream: bytes):
    client = openai_client(stream)
    with client.chat.completions.stream(model="gpt-test", messages=[{"role": "user", "content": "hi"}]) as s:
        for _ in s:
            pass
        return s.get_final_completion()


def assert_contiguous(stream: bytes) -> None:
    """Anthropic block indices: each started once, 0..n in order, deltas/stops only for open ones."""
    started, open_ = -1, set()
    for event in events_of(stream):
        if event["type"] == "content_block_start":
            assert event["index"] == started + 1
            started += 1
            open_.add(event["index"])
        elif event["type"] == "content_block_delta":
            assert event["index"] in open_
        elif event["type"] == "content_block_stop":
            open_.remove(event["index"])
    assert not open_


# ---------------------------------------------------------------- the parser


def test_parser_keeps_every_byte_and_parses_fields():
    stream = (
        "\ufeffevent: message_start\r\ndata: {\"a\": \"é😀\"}\r\n\r\n"
        ": ping\n\n"
        "\n"
        "data: line one\ndata: line two\nid: 7\nretry: 10\n\n"
        "event: only-name\r\r"
        "data:no-space\n\n"
    ).encode()
    for seed in range(200):
        parser = SseParser()
        events: list[SseEvent] = []
        for chunk in cut(stream, random.Random(seed)):
            events += parser.feed(chunk)
        events += parser.close()
        assert b"".join(e.raw for e in events) == stream
        assert [(e.event, e.data) for e in events] == [
            ("message_start", '{"a": "é😀"}'),
            (None, None),
            (None, None),
            (None, "line one\nline two"),
            ("only-name", None),
            (None, "no-space"),
        ]
        assert all(e.complete for e in events)
        assert events[0].newline == "\r\n" and events[4].newline == "\r" and events[3].newline == "\n"


def test_parser_waits_for_the_lf_of_a_crlf_and_flushes_a_cut_off_block():
    parser = SseParser()
    assert parser.feed(b"data: x\r\n\r") == []
    [event] = parser.feed(b"\n")
    assert event.raw == b"data: x\r\n\r\n" and event.data == "x"
    assert parser.feed(b"data: {\"type\": \"content_bl") == []
    [rest] = parser.close()
    assert rest.raw == b'data: {"type": "content_bl' and not rest.complete
    assert SseParser().close() == []


def test_format_event_round_trips():
    raw = format_event('{"x":1}\nsecond', "message_delta", "\r\n")
    assert raw == b'event: message_delta\r\ndata: {"x":1}\r\ndata: second\r\n\r\n'
    [event] = SseParser().feed(raw)
    assert (event.event, event.data, event.raw) == ("message_delta", '{"x":1}\nsecond', raw)


# ---------------------------------------------------------------- passthrough


def _anthropic_plain_streams() -> list[bytes]:
    thinking = {"type": "thinking", "thinking": "Considering… the 😀 case", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA"}
    client_tool = {"type": "tool_use", "id": "toolu_c1", "name": "Read", "input": {"file_path": "/tmp/ü.py"}}
    own_tool = retrieve_use("toolu_own", name=TOOL)  # the client's own tool of that name: see the _2 test
    ping_in_end = anthropic_events([{"type": "text", "text": "ok"}], "end_turn")
    ping_in_end.insert(-1, ("ping", {"type": "ping"}))
    failed = anthropic_events([{"type": "text", "text": "so far"}], "end_turn")[:5]
    failed.append(("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    return [
        sse(ping_in_end),
        sse(failed),
        sse(anthropic_reply([{"type": "text", "text": "Hello wörld, ça va? 😀 fine"}], "end_turn", True).events),
        sse(anthropic_reply([{"type": "text", "text": "I'll read it."}, client_tool], "tool_use", True).events, newline="\r\n"),
        sse(anthropic_events([thinking, {"type": "text", "text": "Done."}, client_tool], "tool_use"), compact=True),
        sse([("keepalive", None)] + anthropic_events([{"type": "text", "text": "x"}], "max_tokens") + [("keepalive", None)]),
        sse(anthropic_events([{"type": "text", "text": "hi"}, own_tool], "tool_use")),
    ]


@pytest.mark.parametrize("index", range(7))
def test_anthropic_stream_without_retrieve_is_byte_identical(index):
    stream = _anthropic_plain_streams()[index]
    tool = "headroom_retrieve_2" if index == 6 else TOOL
    for seed in range(40):
        rng = random.Random(seed)
        splicer = AnthropicSplicer(tool)
        out = feed_round(splicer, stream, rng)
        result = splicer.finish_round()
        assert not result.retrieve_calls and not result.needs_followup
        assert b"".join(out + splicer.final_events()) == stream


def test_anthropic_holds_only_the_end_until_final_events():
    stream = sse(anthropic_reply([{"type": "text", "text": "one two"}], "end_turn", True).events)
    splicer = AnthropicSplicer(TOOL)
    early = b"".join(feed_round(splicer, stream))
    assert early.endswith(b'"type": "content_block_stop", "index": 0}\n\n')  # text streamed at once
    assert b"message_delta" not in early and b"message_stop" not in early
    splicer.finish_round()
    assert early + b"".join(splicer.final_events()) == stream


def _openai_plain_streams() -> list[bytes]:
    return [
        sse(text_reply("openai_chat", "Hello wörld, ça va? 😀 fine", True).events),
        sse(chat_events("Let me read", [("call_a", "read_file", {"path": "ü.py"}), ("call_b", "grep", {"q": "x"})], "tool_calls", usage=usage(90, 12)), compact=True),
        sse(chat_events("plain", usage=usage(5, 1)), newline="\r\n", compact=True),
        sse([("keepalive", None)] + chat_events("", [("call_c", TOOL, {"id": REF})], "tool_calls")),
        # the last words arrive with the finish_reason, then keepalives and usage
        sse(chat_events("x", [], "stop", usage=usage(1, 1))[:1] + [(None, chat_chunk({"content": "é 😀"}, "length", usage=None)), ("keepalive", None)] + chat_events("x", [], "stop", usage=usage(1, 1))[-2:]),
    ]


@pytest.mark.parametrize("index", range(5))
def test_openai_stream_without_retrieve_is_byte_identical(index):
    stream = _openai_plain_streams()[index]
    tool = "headroom_retrieve_2" if index == 3 else TOOL
    for seed in range(40):
        splicer = OpenAIChatSplicer(tool)
        out = feed_round(splicer, stream, random.Random(seed))
        assert not splicer.finish_round().retrieve_calls
        assert b"".join(out + splicer.final_events()) == stream


# ---------------------------------------------------------------- Anthropic rounds


def test_anthropic_retrieve_call_is_held_back_and_reported():
    round1 = anthropic_events([{"type": "text", "text": "Let me look at the folded part."}, retrieve_use()], "tool_use")
    splicer = AnthropicSplicer(TOOL)
    out = b"".join(feed_round(splicer, sse(round1), random.Random(1)))
    assert TOOL.encode() not in out and b"input_json_delta" not in out
    result = splicer.finish_round()
    assert result.needs_followup and not result.client_tool_calls
    [call] = result.retrieve_calls
    assert (call.call_id, call.input, call.ref_id, call.query, call.complete) == ("toolu_r1", {"id": REF, "query": "timeout"}, REF, "timeout", True)
    assert json.loads(call.raw_input) == call.input
    assert result.stop_reason == "tool_use"
    assert result.usage == {"input_tokens": 100, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 50, "output_tokens": 20}
    assert result.assistant == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Let me look at the folded part."}, {"type": "tool_use", "id": "toolu_r1", "name": TOOL, "input": {"id": REF, "query": "timeout"}}],
    }
    assert result.followup_assistant == result.assistant
    assert splicer.followup_messages(result, {"toolu_r1": "the lines"}) == [
        result.followup_assistant,
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_r1", "content": "the lines"}]},
    ]


def test_anthropic_two_rounds_make_one_message_the_sdk_accepts():
    round1 = anthropic_events([{"type": "text", "text": "Let me look."}, retrieve_use()], "tool_use", input_tokens=1000, output_tokens=30)
    round2 = anthropic_events([{"type": "text", "text": "The log shows a timeout."}], "end_turn", input_tokens=1500, output_tokens=40, msg_id="msg_2")
    for seed in range(10):
        stream, results = splice(AnthropicSplicer(TOOL), [sse(round1), sse(round2)], random.Random(seed))
        assert [r.needs_followup for r in results] == [True, False]
        assert_contiguous(stream)
        kinds = [e["type"] for e in events_of(stream)]
        assert kinds.count("message_start") == 1 and kinds.count("message_delta") == 1 and kinds[-1] == "message_stop"
        message = sdk_message(stream)
        assert message.id == "msg_1"
        assert [b.type for b in message.content] == ["text", "text"]
        assert "".join(b.text for b in message.content) == "Let me look.The log shows a timeout."
        assert message.stop_reason == "end_turn"
        # output summed over rounds; input figures stay the conversation's (round 1)
        assert message.usage.output_tokens == 70
        assert message.usage.input_tokens == 1000 and message.usage.cache_read_input_tokens == 50


def test_anthropic_text_stream_reads_through_the_sdk():
    round1 = anthropic_events([{"type": "text", "text": "A b."}, retrieve_use()], "tool_use")
    round2 = anthropic_events([{"type": "text", "text": "C d."}], "end_turn")
    stream, _ = splice(AnthropicSplicer(TOOL), [sse(round1), sse(round2)])
    with anthropic_client(stream).messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
        assert "".join(s.text_stream) == "A b.C d."


def test_anthropic_retrieve_first_shifts_the_client_indices():
    round1 = anthropic_events([retrieve_use(), {"type": "text", "text": "after the call"}], "tool_use")
    round2 = anthropic_events([{"type": "text", "text": "answer"}], "end_turn")
    stream, _ = splice(AnthropicSplicer(TOOL), [sse(round1), sse(round2)])
    assert_contiguous(stream)
    assert [b.text for b in sdk_message(stream).content] == ["after the call", "answer"]


def test_anthropic_three_rounds_when_the_follow_up_retrieves_again():
    round1 = anthropic_events([{"type": "text", "text": "First."}, retrieve_use("toolu_r1")], "tool_use", output_tokens=10)
    round2 = anthropic_events([{"type": "text", "text": "Second."}, retrieve_use("toolu_r2", query=None)], "tool_use", output_tokens=11)
    round3 = anthropic_events([{"type": "text", "text": "Third."}], "end_turn", output_tokens=12)
    splicer = AnthropicSplicer(TOOL)
    stream, results = splice(splicer, [sse(r) for r in (round1, round2, round3)], random.Random(3))
    assert [r.needs_followup for r in results] == [True, True, False]
    assert results[1].retrieve_calls[0].input == {"id": REF} and results[1].retrieve_calls[0].query is None
    assert splicer.rounds == 3
    assert_contiguous(stream)
    message = sdk_message(stream)
    assert [b.text for b in message.content] == ["First.", "Second.", "Third."]
    assert message.usage.output_tokens == 33 and message.stop_reason == "end_turn"


def test_anthropic_mixed_turn_keeps_the_client_call_and_answers_the_retrieve():
    read = {"type": "tool_use", "id": "toolu_c1", "name": "Read", "input": {"file_path": "/src/app.py"}}
    round1 = anthropic_events([{"type": "text", "text": "Reading both."}, read, retrieve_use()], "tool_use")
    round2 = anthropic_events([{"type": "text", "text": "The folded part says nothing new."}], "end_turn")
    splicer = AnthropicSplicer(TOOL)
    splicer.start_round()
    early = b"".join(feed_round(splicer, sse(round1)))
    assert b'"name": "Read"' in early  # the client's call streamed at once
    result = splicer.finish_round()
    assert result.client_tool_calls and result.needs_followup
    assert [b["type"] for b in result.assistant["content"]] == ["text", "tool_use", "tool_use"]
    # the follow-up's assistant turn has no client call: the provider expects no result for it
    assert result.followup_assistant["content"] == [{"type": "text", "text": "Reading both."}, retrieve_use()]
    splicer.start_round()
    rest = feed_round(splicer, sse(round2))
    splicer.finish_round()
    stream = early + b"".join(rest + splicer.final_events())
    assert_contiguous(stream)
    message = sdk_message(stream)
    assert [b.type for b in message.content] == ["text", "tool_use", "text"]
    assert message.content[1].input == {"file_path": "/src/app.py"}
    assert message.stop_reason == "tool_use"  # the client has a call to answer


def test_anthropic_follow_up_may_call_client_tools_too():
    round1 = anthropic_events([{"type": "text", "text": "Checking."}, retrieve_use()], "tool_use")
    round2 = anthropic_events([{"type": "text", "text": "Now run it."}, {"type": "tool_use", "id": "toolu_b", "name": "Bash", "input": {"command": "pytest -q"}}], "tool_use")
    stream, results = splice(AnthropicSplicer(TOOL), [sse(round1), sse(round2)], random.Random(5))
    assert results[1].client_tool_calls and not results[1].needs_followup
    message = sdk_message(stream)
    assert [b.type for b in message.content] == ["text", "text", "tool_use"]
    assert message.content[2].input == {"command": "pytest -q"} and message.stop_reason == "tool_use"


def test_anthropic_thinking_blocks_pass_through_and_go_back_with_their_signature():
    thinking = {"type": "thinking", "thinking": "The marker hides the stack trace.", "signature": "EqQBCgIYAhIMsig1"}
    round1 = anthropic_events([thinking, retrieve_use()], "tool_use")
    round2 = anthropic_events([{"type": "thinking", "thinking": "Now I see.", "signature": "sig2"}, {"type": "text", "text": "Fixed."}], "end_turn")
    splicer = AnthropicSplicer(TOOL)
    splicer.start_round()
    out = feed_round(splicer, sse(round1))
    result = splicer.finish_round()
    assert b"".join(out) == sse(round1[:6])  # message_start, ping and the thinking block, unchanged
    assert result.followup_assistant["content"][0] == thinking
    splicer.start_round()
    out += feed_round(splicer, sse(round2))
    splicer.finish_round()
    stream = b"".join(out + splicer.final_events())
    message = sdk_message(stream)
    assert [b.type for b in message.content] == ["thinking", "thinking", "text"]
    assert (message.content[0].thinking, message.content[0].signature) == (thinking["thinking"], thinking["signature"])
    assert message.content[1].signature == "sig2"


def test_anthropic_client_tool_named_like_ours_passes_with_a_suffixed_name():
    own = retrieve_use("toolu_own", name=TOOL)
    round1 = anthropic_events([own, retrieve_use("toolu_r", name="headroom_retrieve_2")], "tool_use")
    round2 = anthropic_events([{"type": "text", "text": "ok"}], "tool_use")
    stream, results = splice(AnthropicSplicer("headroom_retrieve_2"), [sse(round1), sse(round2)])
    assert [c.call_id for c in results[0].retrieve_calls] == ["toolu_r"] and results[0].client_tool_calls
    message = sdk_message(stream)
    assert [(b.type, getattr(b, "name", None)) for b in message.content] == [("tool_use", TOOL), ("text", None)]
    assert message.stop_reason == "tool_use"


def test_anthropic_pings_and_keepalives_pass_in_every_round():
    round1 = [("keepalive", None)] + anthropic_events([{"type": "text", "text": "a"}, retrieve_use()], "tool_use")
    round2 = anthropic_events([{"type": "text", "text": "b"}], "end_turn")
    round2.insert(3, ("keepalive", None))
    stream, _ = splice(AnthropicSplicer(TOOL), [sse(round1), sse(round2)])
    assert stream.count(b": keepalive\n\n") == 2
    assert stream.count(b"event: ping\n") == 2  # each round's ping; pings are harmless anywhere
    assert [b.text for b in sdk_message(stream).content] == ["a", "b"]


def test_anthropic_error_event_passes_through_and_ends_the_stream():
    error = ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    round1 = anthropic_events([{"type": "text", "text": "a"}, retrieve_use()], "tool_use")
    round2 = anthropic_events([{"type": "text", "text": "partial answer"}], "end_turn")
    round2 = round2[:5] + [error]  # the follow-up fails mid-block
    stream, results = splice(AnthropicSplicer(TOOL), [sse(round1), sse(round2)])
    assert results[1].error == {"type": "overloaded_error", "message": "Overloaded"}
    assert not results[1].complete and not results[1].needs_followup
    assert stream.endswith(sse([error]))  # nothing added after the error
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        sdk_message(stream)


def test_anthropic_cut_off_stream_gets_nothing_added():
    events = anthropic_events([{"type": "text", "text": "cut off here"}], "end_turn")
    stream = sse(events[:-2])
    splicer = AnthropicSplicer(TOOL)
    out = feed_round(splicer, stream + b"event: content_bl")
    result = splicer.finish_round()
    assert not result.complete and splicer.final_events() == []
    assert b"".join(out) == stream + b"event: content_bl"


def test_anthropic_stopping_with_an_unanswered_retrieve_ends_the_turn_cleanly():
    round1 = anthropic_events([{"type": "text", "text": "Need more."}, retrieve_use("toolu_1")], "tool_use")
    round2 = anthropic_events([{"type": "text", "text": "Still more."}, retrieve_use("toolu_2")], "tool_use")
    splicer = AnthropicSplicer(TOOL)
    stream, results = splice(splicer, [sse(round1), sse(round2)])  # the caller's limit: 2 rounds
    assert results[-1].needs_followup  # the model wanted another round; the caller stopped
    assert_contiguous(stream)
    message = sdk_message(stream)
    assert [b.type for b in message.content] == ["text", "text"] and message.stop_reason == "end_turn"
    # even with no follow-up at all
    single, _ = splice(AnthropicSplicer(TOOL), [sse(round1)])
    message = sdk_message(single)
    assert [b.text for b in message.content] == ["Need more."] and message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 20


def test_anthropic_retrieve_cut_off_by_max_tokens_is_not_answered():
    events = anthropic_events([{"type": "text", "text": "Let me see"}, retrieve_use()], "max_tokens")
    del events[-4:-2]  # the input's last piece and the block's stop never came
    splicer = AnthropicSplicer(TOOL)
    out = feed_round(splicer, sse(events))
    result = splicer.finish_round()
    [call] = result.retrieve_calls
    assert not call.complete and call.input == {} and call.raw_input.startswith('{"id": ')
    assert not result.needs_followup
    message = sdk_message(b"".join(out + splicer.final_events()))
    assert [b.type for b in message.content] == ["text"] and message.stop_reason == "max_tokens"


def test_anthropic_sum_input_usage_reports_what_was_billed():
    round1 = anthropic_events([{"type": "text", "text": "a"}, retrieve_use()], "tool_use", input_tokens=1000, output_tokens=30)
    round2 = anthropic_events([{"type": "text", "text": "b"}], "end_turn", input_tokens=1500, output_tokens=40)
    stream, results = splice(AnthropicSplicer(TOOL, sum_input_usage=True), [sse(round1), sse(round2)])
    message = sdk_message(stream)
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (2500, 100, 70)
    assert [r.usage["input_tokens"] for r in results] == [1000, 1500]


def test_anthropic_message_delta_input_figures_are_kept_consistent():
    """Newer API versions repeat input figures in message_delta; the SDK lets them overwrite."""
    round1 = anthropic_events([{"type": "text", "text": "a"}, retrieve_use()], "tool_use", input_tokens=1000, output_tokens=30)
    round2 = anthropic_events([{"type": "text", "text": "b"}], "end_turn", input_tokens=1500, output_tokens=40)
    for events, tokens in ((round1, 1000), (round2, 1500)):
        events[-2][1]["usage"] = {"input_tokens": tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 50, "output_tokens": events[-2][1]["usage"]["output_tokens"]}
    stream, _ = splice(AnthropicSplicer(TOOL), [sse(round1), sse(round2)])
    usage_ = sdk_message(stream).usage
    assert (usage_.input_tokens, usage_.output_tokens) == (1000, 70)


def test_anthropic_lifecycle_misuse_is_refused():
    splicer = AnthropicSplicer(TOOL)
    splicer.start_round()  # before the first round: nothing to do
    splicer.feed(SseParser().feed(sse(anthropic_events([{"type": "text", "text": "a"}], "end_turn"))[:50]))
    with pytest.raises(RuntimeError):
        splicer.start_round()
    splicer.finish_round()
    with pytest.raises(RuntimeError):
        splicer.feed([])


# ---------------------------------------------------------------- OpenAI rounds


def test_openai_retrieve_call_is_held_back_and_reported():
    round1 = chat_events("Let me look.", [("call_r", TOOL, {"id": REF, "query": "error"})], "tool_calls", usage=usage(900, 25))
    splicer = OpenAIChatSplicer(TOOL)
    out = b"".join(feed_round(splicer, sse(round1, compact=True), random.Random(2)))
    assert TOOL.encode() not in out and b"tool_calls" not in out and b"[DONE]" not in out
    result = splicer.finish_round()
    [call] = result.retrieve_calls
    assert (call.call_id, call.input, call.complete) == ("call_r", {"id": REF, "query": "error"}, True)
    assert result.needs_followup and result.stop_reason == "tool_calls" and result.usage == usage(900, 25)
    entry = {"id": "call_r", "type": "function", "function": {"name": TOOL, "arguments": json.dumps({"id": REF, "query": "error"})}}
    assert result.assistant == {"role": "assistant", "content": "Let me look.", "tool_calls": [entry]}
    assert splicer.followup_messages(result, {"call_r": "lines"}) == [result.assistant, {"role": "tool", "tool_call_id": "call_r", "content": "lines"}]


def test_openai_two_rounds_make_one_completion_the_sdk_accepts():
    round1 = chat_events("Let me look.", [("call_r", TOOL, {"id": REF})], "tool_calls", cid="chatcmpl-1", usage=usage(900, 25, cached=100))
    round2 = chat_events("The log shows a timeout.", [], "stop", cid="chatcmpl-2", created=1700000099, usage=usage(1300, 30, cached=900))
    for seed in range(10):
        stream, results = splice(OpenAIChatSplicer(TOOL), [sse(round1, compact=True), sse(round2, compact=True)], random.Random(seed))
        assert [r.needs_followup for r in results] == [True, False]
        chunks = sdk_chunks(stream)
        assert {c.id for c in chunks} == {"chatcmpl-1"} and {c.created for c in chunks} == {1700000000}
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Let me look.\n\nThe log shows a timeout."
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
        assert chunks[-1].usage.completion_tokens == 55 and chunks[-1].usage.prompt_tokens == 900
        assert chunks[-1].usage.total_tokens == 955 and chunks[-1].usage.prompt_tokens_details.cached_tokens == 100
        assert stream.endswith(b"data: [DONE]\n\n") and stream.count(b"[DONE]") == 1
        completion = sdk_completion(stream)
        assert completion.choices[0].message.role == "assistant"  # the SDK would make it "assistantassistant"
        assert completion.choices[0].message.content == text and not completion.choices[0].message.tool_calls


def test_openai_mixed_turn_keeps_the_client_calls_contiguous():
    round1 = chat_events("Reading.", [("call_a", "read_file", {"path": "a.py"}), ("call_r", TOOL, {"id": REF})], "tool_calls")
    round2 = chat_events("And grep.", [("call_b", "grep", {"pattern": "def main"})], "tool_calls", cid="chatcmpl-2")
    splicer = OpenAIChatSplicer(TOOL)
    splicer.start_round()
    out = feed_round(splicer, sse(round1))
    assert b"read_file" in b"".join(out)
    result = splicer.finish_round()
    assert result.client_tool_calls and result.needs_followup
    assert [c["id"] for c in result.assistant["tool_calls"]] == ["call_a", "call_r"]
    assert [c["id"] for c in result.followup_assistant["tool_calls"]] == ["call_r"]  # no client call
    splicer.start_round()
    out += feed_round(splicer, sse(round2))
    splicer.finish_round()
    stream = b"".join(out + splicer.final_events())
    message = sdk_completion(stream).choices[0].message
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("call_a", "read_file", {"path": "a.py"}),
        ("call_b", "grep", {"pattern": "def main"}),
    ]
    indices = [tc["index"] for e in events_of(stream) for c in e["choices"] for tc in c["delta"].get("tool_calls", [])]
    assert sorted(set(indices)) == [0, 1]
    assert sdk_completion(stream).choices[0].finish_reason == "tool_calls"


def test_openai_mixed_turn_ending_in_plain_text_still_asks_for_the_client_calls():
    round1 = chat_events(None, [("call_r", TOOL, {"id": REF}), ("call_a", "read_file", {"path": "a.py"})], "tool_calls")
    round2 = chat_events("Done reading the fold.", [], "stop", cid="chatcmpl-2")
    stream, _ = splice(OpenAIChatSplicer(TOOL), [sse(round1), sse(round2)])
    choice = sdk_completion(stream).choices[0]
    assert choice.finish_reason == "tool_calls" and [c.id for c in choice.message.tool_calls] == ["call_a"]
    assert choice.message.content == "Done reading the fold."  # no separator before the first text


def test_openai_three_rounds_and_stopping_with_an_unanswered_retrieve():
    rounds = [
        chat_events("One.", [("call_1", TOOL, {"id": REF})], "tool_calls", cid="c1", usage=usage(10, 1)),
        chat_events("Two.", [("call_2", TOOL, {"id": REF, "query": "x"})], "tool_calls", cid="c2", usage=usage(20, 2)),
        chat_events("Three.", [("call_3", TOOL, {"id": REF})], "tool_calls", cid="c3", usage=usage(30, 3)),
    ]
    stream, results = splice(OpenAIChatSplicer(TOOL), [sse(r) for r in rounds], random.Random(9))
    assert all(r.needs_followup for r in results)  # the caller stopped after three
    completion = sdk_completion(stream)
    assert completion.choices[0].message.content == "One.\n\nTwo.\n\nThree."
    assert completion.choices[0].finish_reason == "stop" and not completion.choices[0].message.tool_calls
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (10, 6, 16)


def test_openai_sum_input_usage_and_retrieve_in_the_finish_chunk():
    round1 = chat_events("a", [], "tool_calls", usage=usage(10, 1))
    # a compatible host that sends the last call's arguments with the finish_reason
    head = {"index": 0, "id": "call_r", "type": "function", "function": {"name": TOOL, "arguments": json.dumps({"id": REF})}}
    round1[-3] = (None, chat_chunk({"content": " b", "tool_calls": [head]}, "tool_calls", usage=None))
    round2 = chat_events("c", [], "stop", cid="x2", usage=usage(30, 3))
    stream, results = splice(OpenAIChatSplicer(TOOL, sum_input_usage=True), [sse(round1), sse(round2)])
    assert results[0].retrieve_calls[0].input == {"id": REF}
    completion = sdk_completion(stream)
    assert completion.choices[0].message.content == "a b\n\nc"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (40, 4, 44)


def test_openai_error_passes_through():
    error = (None, {"error": {"message": "The server had an error", "type": "server_error"}})
    round1 = chat_events("a", [("call_r", TOOL, {"id": REF})], "tool_calls")
    round2 = chat_events("partial", [], "stop", cid="c2")[:2] + [error]
    stream, results = splice(OpenAIChatSplicer(TOOL), [sse(round1), sse(round2)])
    assert results[1].error == error[1]["error"] and not results[1].needs_followup
    assert stream.endswith(sse([error])) and b"[DONE]" not in stream
    with pytest.raises(openai.APIError, match="server had an error"):
        sdk_chunks(stream)


def test_openai_keepalive_comments_pass():
    round1 = [("keepalive", None)] + chat_events("a", [("call_r", TOOL, {"id": REF})], "tool_calls")
    round2 = chat_events("b", [], "stop", cid="c2")
    round2.insert(2, ("keepalive", None))
    stream, _ = splice(OpenAIChatSplicer(TOOL), [sse(round1), sse(round2)])
    assert stream.count(b": keepalive\n\n") == 2
    assert sdk_completion(stream).choices[0].message.content == "a\n\nb"

