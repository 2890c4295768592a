"""Responses stream splicing: retrieve calls answered by the proxy, one response for the client.

The streams are built in the API's event shapes (typed events with `sequence_number`, items with
`output_index`, a closing event carrying the whole response); the spliced results are read back
by the official SDK's own Responses stream accumulator, which indexes items by `output_index`.
"""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import openai
import pytest

from addon.providers.openai_responses.stream_splicer import OpenAIResponsesSplicer
from addon.wire.sse_events import SseParser
from tests.addon.retrieval.test_stream_splicer import cut, events_of, feed_round, splice, sse
from tests.support.mock_provider import text_reply

TOOL = "headroom_retrieve"
REF = "0123456789abcdef01234567"


# ---------------------------------------------------------------- stream builders


def message(text: str, mid: str = "msg_1") -> dict:
    return {"type": "message", "id": mid, "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": text, "annotations": []}]}


def reasoning(summary: str, rid: str = "rs_1", encrypted: str = "gAAAAB+enc/ü==") -> dict:
    return {"type": "reasoning", "id": rid, "summary": [{"type": "summary_text", "text": summary}], "encrypted_content": encrypted}


def call(name: str, args: dict, call_id: str = "call_r1", fid: str = "fc_1") -> dict:
    return {"type": "function_call", "id": fid, "call_id": call_id, "name": name, "arguments": json.dumps(args), "status": "completed"}


def retrieve(call_id: str = "call_r1", query: str | None = "timeout", fid: str = "fc_r1") -> dict:
    args: dict[str, Any] = {"id": REF} if query is None else {"id": REF, "query": query}
    return call(TOOL, args, call_id, fid)


def usage(inp: int, out: int, cached: int = 0, reasoning_tokens: int = 0) -> dict:
    return {
        "input_tokens": inp, "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": out, "output_tokens_details": {"reasoning_tokens": reasoning_tokens}, "total_tokens": inp + out,
    }  # fmt: skip


def response_events(
    items: list[dict], status: str = "completed", *, rid: str = "resp_1", use: dict | None = None, piece: int = 6, cut_at: int | None = None
) -> list[tuple[str | None, Any]]:
    """A Responses stream with its sequence numbers; `cut_at` ends it after that many events."""
    response = {
        "id": rid, "object": "response", "created_at": 1700000000, "status": "in_progress", "model": "gpt-test",
        "output": [], "parallel_tool_calls": True, "previous_response_id": None, "store": True, "usage": None,
    }  # fmt: skip
    events: list[dict] = [{"type": "response.created", "response": response}, {"type": "response.in_progress", "response": response}]
    for i, item in enumerate(items):
        iid = item["id"]
        if item["type"] == "message":
            text = item["content"][0]["text"]
            empty = {"type": "output_text", "text": "", "annotations": []}
            events.append({"type": "response.output_item.added", "output_index": i, "item": {**item, "status": "in_progress", "content": []}})
            events.append({"type": "response.content_part.added", "item_id": iid, "output_index": i, "content_index": 0, "part": empty})
            words = text.split(" ")
            for n, w in enumerate(words):
                delta = w + (" " if n < len(words) - 1 else "")
                events.append({"type": "response.output_text.delta", "item_id": iid, "output_index": i, "content_index": 0, "delta": delta, "logprobs": []})
            events.append({"type": "response.output_text.done", "item_id": iid, "output_index": i, "content_index": 0, "text": text, "logprobs": []})
            events.append({"type": "response.content_part.done", "item_id": iid, "output_index": i, "content_index": 0, "part": item["content"][0]})
        elif item["type"] == "reasoning":
            summary = item["summary"][0]["text"]
            events.append({"type": "response.output_item.added", "output_index": i, "item": {"type": "reasoning", "id": iid, "summary": []}})
            part = {"type": "summary_text", "text": ""}
            events.append({"type": "response.reasoning_summary_part.added", "item_id": iid, "output_index": i, "summary_index": 0, "part": part})
            events.append({"type": "response.reasoning_summary_text.delta", "item_id": iid, "output_index": i, "summary_index": 0, "delta": summary})
            events.append({"type": "response.reasoning_summary_text.done", "item_id": iid, "output_index": i, "summary_index": 0, "text": summary})
            events.append({"type": "response.reasoning_summary_part.done", "item_id": iid, "output_index": i, "summary_index": 0, "part": item["summary"][0]})
        else:
            args = item["arguments"]
            events.append({"type": "response.output_item.added", "output_index": i, "item": {**item, "arguments": "", "status": "in_progress"}})
            for k in range(0, len(args), piece):
                events.append({"type": "response.function_call_arguments.delta", "item_id": iid, "output_index": i, "delta": args[k : k + piece]})
            events.append({"type": "response.function_call_arguments.done", "item_id": iid, "output_index": i, "arguments": args})
        events.append({"type": "response.output_item.done", "output_index": i, "item": item})
    final = {**response, "status": status, "output": items, "usage": use or usage(100, 20)}
    if status == "failed":
        final["error"] = {"code": "server_error", "message": "The model failed"}
    events.append({"type": f"response.{status}", "response": final})
    if cut_at is not None:
        events = events[:cut_at]
    return [(e["type"], {"type": e["type"], "sequence_number": n, **{k: v for k, v in e.items() if k != "type"}}) for n, e in enumerate(events)]


def error_event(seq: int) -> tuple[str, dict]:
    return ("error", {"type": "error", "sequence_number": seq, "code": "server_error", "message": "The server had an error", "param": None})


# ---------------------------------------------------------------- reading what the client got


def sdk_response(stream: bytes):
    """The SDK's accumulated response (it asserts that each delta's output_index is the right item)."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream))
    client = openai.OpenAI(api_key="test", base_url="http://openai.test/v1", http_client=httpx.Client(transport=transport), max_retries=0)
    with client.responses.stream(model="gpt-test", input="hi") as s:
        for _ in s:
            pass
        return s.get_final_response()


def assert_numbered(stream: bytes) -> None:
    """sequence_number contiguous from 0; each output_index added once, 0..n in order."""
    events = events_of(stream)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    assert added == list(range(len(added)))
    assert all(e["output_index"] in added for e in events if "output_index" in e)
    kinds = [e["type"] for e in events]
    assert kinds.count("response.created") == 1 and kinds.count("response.in_progress") == 1


def texts(response) -> list[str]:
    return [item.content[0].text for item in response.output if item.type == "message"]


# ---------------------------------------------------------------- passthrough


def _plain_streams() -> list[bytes]:
    own = call(TOOL, {"id": REF}, "call_own", "fc_own")  # the client's own tool of that name: see the index-5 case
    keepalive = [("keepalive", None)] + response_events([message("x")]) + [("keepalive", None)]
    return [
        sse(response_events([message("Hello wörld, ça va? 😀 fine")]), compact=True),
        sse(response_events([reasoning("Think 😀"), message("Let me read"), call("read_file", {"path": "ü.py"}, "call_a")]), newline="\r\n"),
        sse(keepalive),
        sse(response_events([message("cut short")], "incomplete"), compact=True),
        sse(response_events([message("so far")], cut_at=5) + [error_event(5)]),
        sse(response_events([own, message("hi")])),
        sse(response_events([message("broken")], "failed"), compact=True),
        sse(text_reply("openai_responses", "no sequence numbers here", True).events),
    ]


@pytest.mark.parametrize("index", range(8))
def test_stream_without_retrieve_is_byte_identical(index):
    stream = _plain_streams()[index]
    tool = "headroom_retrieve_2" if index == 5 else TOOL
    chunkings = [[stream[i : i + 1] for i in range(len(stream))]] + [cut(stream, random.Random(seed)) for seed in range(30)]
    for chunks in chunkings:
        splicer = OpenAIResponsesSplicer(tool)
        parser = SseParser()
        out = [piece for chunk in chunks for piece in splicer.feed(parser.feed(chunk))] + splicer.feed(parser.close())
        result = splicer.finish_round()
        assert not result.retrieve_calls and not result.needs_followup
        assert b"".join(out + splicer.final_events()) == stream


def test_only_the_closing_event_is_held():
    stream = sse(response_events([message("one two")]))
    splicer = OpenAIResponsesSplicer(TOOL)
    early = b"".join(feed_round(splicer, stream))
    assert b"response.output_item.done" in early and b"response.completed" not in early
    result = splicer.finish_round()
    assert (result.stop_reason, result.complete, result.error) == ("completed", True, None)
    assert early + b"".join(splicer.final_events()) == stream


# ---------------------------------------------------------------- rounds


def test_retrieve_call_is_held_back_and_reported():
    round1 = response_events([reasoning("Need the fold."), message("Let me look."), retrieve()], use=usage(900, 25, cached=100))
    splicer = OpenAIResponsesSplicer(TOOL)
    out = b"".join(feed_round(splicer, sse(round1, compact=True), random.Random(2)))
    assert TOOL.encode() not in out and b"function_call" not in out and b"response.completed" not in out
    events = events_of(out)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert {e["output_index"] for e in events if "output_index" in e} == {0, 1}
    result = splicer.finish_round()
    [rc] = result.retrieve_calls
    assert (rc.call_id, rc.input, rc.ref_id, rc.query, rc.complete) == ("call_r1", {"id": REF, "query": "timeout"}, REF, "timeout", True)
    assert result.needs_followup and not result.client_tool_calls
    assert (result.stop_reason, result.usage) == ("completed", usage(900, 25, cached=100))
    assert result.assistant == {"items": [reasoning("Need the fold."), message("Let me look."), retrieve()], "response_id": "resp_1"}
    assert result.followup_assistant == result.assistant
    assert splicer.followup_messages(result, {"call_r1": "the lines"}) == [
        *result.assistant["items"],
        {"type": "function_call_output", "call_id": "call_r1", "output": "the lines"},
    ]


def test_arguments_fall_back_to_the_deltas():
    events = response_events([message("a"), retrieve()], "incomplete")
    unfinished = {"response.function_call_arguments.done", "response.output_item.done"}
    events = [e for e in events if e[0] not in unfinished or e[1]["output_index"] == 0]
    for n, (_, data) in enumerate(events):
        data["sequence_number"] = n
    splicer = OpenAIResponsesSplicer(TOOL)
    feed_round(splicer, sse(events))
    result = splicer.finish_round()
    [rc] = result.retrieve_calls
    assert rc.input == {"id": REF, "query": "timeout"} and rc.raw_input == retrieve()["arguments"]
    assert not rc.complete and not result.needs_followup  # the item never finished
    assert result.stop_reason == "incomplete"
    assert [i["type"] for i in events_of(b"".join(splicer.final_events()))[0]["response"]["output"]] == ["message"]


def test_two_rounds_make_one_response_the_sdk_accepts():
    round1 = response_events([reasoning("Fold first."), message("Let me look."), retrieve()], use=usage(900, 25, cached=100, reasoning_tokens=10))
    round2 = response_events([message("The log shows a timeout.", "msg_2")], rid="resp_2", use=usage(1300, 30, cached=900, reasoning_tokens=5))
    for seed in range(10):
        stream, results = splice(OpenAIResponsesSplicer(TOOL), [sse(round1, compact=True), sse(round2, compact=True)], random.Random(seed))
        assert [r.needs_followup for r in results] == [True, False]
        assert_numbered(stream)
        assert TOOL.encode() not in stream
        response = sdk_response(stream)
        assert response.id == "resp_2"  # the stored response that holds the whole exchange
        assert [item.type for item in response.output] == ["reasoning", "message", "message"]
        assert texts(response) == ["Let me look.", "The log shows a timeout."]
        assert response.output[0].encrypted_content == "gAAAAB+enc/ü=="
        u = response.usage
        assert (u.input_tokens, u.input_tokens_details.cached_tokens, u.output_tokens, u.total_tokens) == (900, 100, 55, 955)
        assert u.output_tokens_details.reasoning_tokens == 15
        closing = events_of(stream)[-1]
        assert closing["type"] == "response.completed" and closing["response"]["status"] == "completed"


def test_retrieve_first_shifts_the_client_indices_and_rounds_continue_the_numbering():
    round1 = response_events([retrieve(), message("after the call")])
    round2 = response_events([retrieve("call_r2", fid="fc_r2"), message("second", "msg_2")], rid="resp_2")
    round3 = response_events([message("third", "msg_3")], rid="resp_3")
    splicer = OpenAIResponsesSplicer(TOOL)
    stream, results = splice(splicer, [sse(r) for r in (round1, round2, round3)], random.Random(3))
    assert [r.needs_followup for r in results] == [True, True, False] and splicer.rounds == 3
    assert_numbered(stream)
    response = sdk_response(stream)
    assert texts(response) == ["after the call", "second", "third"] and response.id == "resp_3"
    assert response.usage.output_tokens == 60 and response.usage.input_tokens == 100


def test_mixed_turn_keeps_the_client_call_renumbered():
    read = call("read_file", {"path": "a.py"}, "call_a", "fc_a")
    round1 = response_events([reasoning("Both."), retrieve(), read])
    round2 = response_events([message("The fold says nothing new.", "msg_2")], rid="resp_2")
    splicer = OpenAIResponsesSplicer(TOOL)
    out = feed_round(splicer, sse(round1))
    early = events_of(b"".join(out))
    assert {e["output_index"] for e in early if e.get("item_id") == "fc_a" or e.get("item", {}).get("id") == "fc_a"} == {1}
    result = splicer.finish_round()
    assert result.client_tool_calls and result.needs_followup
    assert [i["id"] for i in result.assistant["items"]] == ["rs_1", "fc_r1", "fc_a"]
    assert [i["id"] for i in result.followup_assistant["items"]] == ["rs_1", "fc_r1"]  # no output is owed for call_a
    splicer.start_round()
    out += feed_round(splicer, sse(round2))
    splicer.finish_round()
    stream = b"".join(out + splicer.final_events())
    assert_numbered(stream)
    response = sdk_response(stream)
    assert [(i.type, getattr(i, "call_id", None)) for i in response.output] == [("reasoning", None), ("function_call", "call_a"), ("message", None)]
    assert json.loads(response.output[1].arguments) == {"path": "a.py"}


def test_stopping_with_an_unanswered_retrieve_leaves_nothing_dangling():
    round1 = response_events([message("Need more."), retrieve()])
    stream, results = splice(OpenAIResponsesSplicer(TOOL), [sse(round1)])
    assert results[0].needs_followup  # the caller stopped anyway
    response = sdk_response(stream)
    assert [i.type for i in response.output] == ["message"] and response.usage.output_tokens == 20


def test_sum_input_usage_reports_what_was_billed():
    round1 = response_events([message("a"), retrieve()], use=usage(1000, 30, cached=50))
    round2 = response_events([message("b", "msg_2")], rid="resp_2", use=usage(1500, 40, cached=900))
    stream, _ = splice(OpenAIResponsesSplicer(TOOL, sum_input_usage=True), [sse(round1), sse(round2)])
    u = sdk_response(stream).usage
    assert (u.input_tokens, u.input_tokens_details.cached_tokens, u.output_tokens, u.total_tokens) == (2500, 950, 70, 2570)


def test_error_event_passes_through_and_ends_the_stream():
    round1 = response_events([message("a"), retrieve()])
    round2 = response_events([message("partial answer", "msg_2")], rid="resp_2", cut_at=6) + [error_event(6)]
    stream, results = splice(OpenAIResponsesSplicer(TOOL), [sse(round1), sse(round2)])
    assert results[1].error["message"] == "The server had an error"
    assert not results[1].complete and not results[1].needs_followup
    last = events_of(stream)[-1]
    assert last["type"] == "error" and last["sequence_number"] == len(events_of(stream)) - 1  # nothing added after it
    assert b"response.completed" not in stream


def test_failed_round_passes_through_and_is_not_followed_up():
    failed = response_events([message("a"), retrieve()], "failed")
    splicer = OpenAIResponsesSplicer(TOOL)
    feed_round(splicer, sse(failed))
    result = splicer.finish_round()
    assert result.retrieve_calls and result.stop_reason == "failed" and not result.needs_followup
    assert result.error == {"code": "server_error", "message": "The model failed"}
    # a failed follow-up: the client sees response.failed, with the first round's text in it
    round2 = response_events([message("b", "msg_2")], "failed", rid="resp_2")
    stream, results = splice(OpenAIResponsesSplicer(TOOL), [sse(response_events([message("a"), retrieve()])), sse(round2)])
    closing = events_of(stream)[-1]
    assert closing["type"] == "response.failed" and closing["response"]["id"] == "resp_2"
    assert [i["id"] for i in closing["response"]["output"]] == ["msg_1", "msg_2"]
    assert not results[1].needs_followup


def test_cut_off_stream_gets_nothing_added():
    stream = sse(response_events([message("cut off here")], cut_at=5))
    splicer = OpenAIResponsesSplicer(TOOL)
    out = feed_round(splicer, stream + b"event: response.outp")
    result = splicer.finish_round()
    assert not result.complete and splicer.final_events() == []
    assert b"".join(out) == stream + b"event: response.outp"


# ---------------------------------------------------------------- follow-up requests


def _round(items: list[dict], rid: str = "resp_1") -> tuple[OpenAIResponsesSplicer, Any]:
    splicer = OpenAIResponsesSplicer(TOOL)
    feed_round(splicer, sse(response_events(items, rid=rid)))
    return splicer, splicer.finish_round()


OUTPUT = {"type": "function_call_output", "call_id": "call_r1", "output": "the lines"}
ANSWERS = {"call_r1": "the lines"}


def test_follow_up_appends_to_the_input_keeping_its_bytes():
    splicer, result = _round([reasoning("Fold."), message("Looking."), retrieve()])
    body = '{"model": "gpt-test", "stream": true, "tools": [], "input": [{"role": "user", "content": "why \\u00e9?"}]}'
    new = splicer.follow_up_body(body, result, ANSWERS)
    assert new.startswith(body[: body.rindex("]")])  # the forwarded prefix, byte for byte
    assert json.loads(new)["input"][1:] == [reasoning("Fold."), message("Looking."), retrieve(), OUTPUT]
    # the next round appends again
    splicer.start_round()
    feed_round(splicer, sse(response_events([retrieve("call_r2", fid="fc_r2")], rid="resp_2")))
    again = splicer.follow_up_body(new, splicer.finish_round(), {"call_r2": "more"})
    assert again.startswith(new[: new.rindex("]")]) and json.loads(again)["input"][-1]["call_id"] == "call_r2"


def test_follow_up_without_store_drops_item_ids():
    splicer, result = _round([reasoning("Fold.", encrypted="gAAA/ü+x=="), message("Looking."), retrieve()])
    body = '{"model":"gpt-test","store":false,"include":["reasoning.encrypted_content"],"input":[{"role":"user","content":"hi"}]}'
    items = json.loads(splicer.follow_up_body(body, result, ANSWERS))["input"][1:]
    assert items[0] == {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Fold."}], "encrypted_content": "gAAA/ü+x=="}
    assert all("id" not in i and "status" not in i for i in items)
    assert items[2] == {"type": "function_call", "call_id": "call_r1", "name": TOOL, "arguments": retrieve()["arguments"]} and items[3] == OUTPUT


def test_follow_up_chains_onto_the_round_where_the_client_chains():
    splicer, result = _round([message("Looking."), retrieve()], rid="resp_9")
    body = '{"model": "gpt-test", "previous_response_id": "resp_8", "input": [{"type": "function_call_output", "call_id": "c0", "output": "x"}], "stream": true}'
    new = splicer.follow_up_body(body, result, ANSWERS)
    assert new == '{"model": "gpt-test", "previous_response_id": "resp_9", "input": [' + json.dumps(OUTPUT, separators=(",", ":")) + '], "stream": true}'
    # not with store false, and not in a mixed round (the stored round holds a call owed an output)
    unstored = body.replace('"stream": true', '"store": false')
    assert json.loads(splicer.follow_up_body(unstored, result, ANSWERS))["previous_response_id"] == "resp_8"
    mixed_splicer, mixed = _round([retrieve(), call("read_file", {"path": "a"}, "call_a", "fc_a")], rid="resp_9")
    followed = json.loads(mixed_splicer.follow_up_body(body, mixed, ANSWERS))
    assert followed["previous_response_id"] == "resp_8"
    assert [i.get("call_id") for i in followed["input"]] == ["c0", "call_r1", "call_r1"]


def test_follow_up_turns_string_input_into_a_list():
    splicer, result = _round([retrieve()])
    body = '{"model":"gpt-test","input":"what failed?","stream":true}'
    new = splicer.follow_up_body(body, result, ANSWERS)
    assert new.startswith('{"model":"gpt-test","input":[') and new.endswith('],"stream":true}')
    assert json.loads(new)["input"] == [{"role": "user", "content": "what failed?"}, retrieve(), OUTPUT]
