"""Gemini stream splicing (`:streamGenerateContent?alt=sse`, plain and Gemini CLI's v1internal
wrapper): retrieve rounds answered by the proxy, one stream of chunks for the client."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from tests.addon.retrieval.test_stream_splicer import cut as random_cut
from addon.providers.gemini.media import GeminiMedia
from addon.providers.gemini.stream_splicer import GeminiSplicer
from addon.retrieval.stream_splicer import RoundResult, dumps
from addon.wire.json_splice import find_spans
from addon.wire.sse_events import SseParser

TOOL = "headroom_retrieve"
REF = "0123456789abcdef01234567"
SIG = "CpYBAdHtim9+/x==ZmFrZSBzaWduYXR1cmU/"  # base64, with the characters JSON might escape
SIG2 = "Cr8CAdHtim8second+sig/=="


# ---------------------------------------------------------------- stream builders


def chunk(parts: list[dict] | None, finish: str | None = None, usage: dict | None = None, *, rid: str = "resp-1", wrapped: bool = False) -> dict:
    """One GenerateContentResponse as Gemini streams it (wrapped: as v1internal does)."""
    candidate: dict[str, Any] = {}
    if parts is not None:
        candidate["content"] = {"parts": parts, "role": "model"}
    if finish:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    body: dict[str, Any] = {"candidates": [candidate]}
    if usage:
        body["usageMetadata"] = usage
    body |= {"modelVersion": "gemini-2.5-pro", "responseId": rid}
    return {"response": body, "traceId": "trace-" + rid} if wrapped else body


def meta(prompt: int, candidates: int | None = None, thoughts: int | None = None, cached: int | None = None) -> dict:
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if candidates is not None:
        usage["candidatesTokenCount"] = candidates
    if cached is not None:
        usage["cachedContentTokenCount"] = cached
    usage["totalTokenCount"] = prompt + (candidates or 0) + (thoughts or 0)
    if thoughts is not None:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def call(name: str, args: dict, signature: str | None = None, call_id: str | None = None) -> dict:
    function: dict[str, Any] = {"name": name, "args": args}
    if call_id:
        function["id"] = call_id
    return {"functionCall": function} | ({"thoughtSignature": signature} if signature else {})


def retrieve(signature: str | None = None, call_id: str | None = None, query: str = "timeout") -> dict:
    return call(TOOL, {"id": REF, "query": query}, signature, call_id)


def text_round(text: str, end: list[dict], finish: str = "STOP", usage: dict | None = None, *, rid: str = "resp-1", wrapped: bool = False) -> list[dict]:
    """A thought summary, the text word by word with running usage, then `end` with the finish."""
    chunks = [chunk([{"text": "Considering the fold…", "thought": True}], usage=meta(100), rid=rid, wrapped=wrapped)]
    chunks += [chunk([{"text": word}], usage=meta(100), rid=rid, wrapped=wrapped) for word in re.findall(r"\s*\S+", text)]
    return chunks + [chunk(end, finish, usage or meta(100, 20, 5), rid=rid, wrapped=wrapped)]


def sse(chunks: list[Any], compact: bool = False) -> bytes:
    """Events as Gemini writes them: `data: …` and CRLF; None is a keepalive comment."""
    out = []
    for c in chunks:
        out.append(": keepalive\r\n\r\n" if c is None else "data: " + json.dumps(c, ensure_ascii=False, separators=(",", ":") if compact else None) + "\r\n\r\n")
    return "".join(out).encode()


# ---------------------------------------------------------------- driving a splicer


def cut(data: bytes, rng: random.Random | None) -> list[bytes]:
    """Single bytes (rng None), or random chunks from 1 byte up to whole events."""
    return [data[i : i + 1] for i in range(len(data))] if rng is None else random_cut(data, rng)


def feed_round(splicer: GeminiSplicer, stream: bytes, rng: random.Random | None = None, whole: bool = True) -> list[bytes]:
    parser = SseParser()
    out: list[bytes] = []
    for piece in [stream] if whole else cut(stream, rng):
        out += splicer.feed(parser.feed(piece))
    return out + splicer.feed(parser.close())


def splice(splicer: GeminiSplicer, streams: list[bytes], rng: random.Random | None = None) -> tuple[bytes, list[RoundResult]]:
    out: list[bytes] = []
    results = []
    for stream in streams:
        splicer.start_round()
        out += feed_round(splicer, stream, rng, whole=rng is None)
        results.append(splicer.finish_round())
    return b"".join(out + splicer.final_events()), results


def client_view(stream: bytes) -> dict:
    """What a client accumulates, as Gemini CLI does: candidate 0's parts, the finish, the last usage."""
    parts, finishes, usage = [], [], None
    for event in SseParser().feed(stream):
        if event.data is None:
            continue
        data = json.loads(event.data)
        data = data["response"] if "response" in data else data
        candidate = (data.get("candidates") or [{}])[0]
        parts += candidate.get("content", {}).get("parts", [])
        finishes += [candidate["finishReason"]] if "finishReason" in candidate else []
        usage = data.get("usageMetadata", usage)
    text = "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    calls = [p["functionCall"]["name"] for p in parts if "functionCall" in p]
    return {"text": text, "calls": calls, "finishes": finishes, "usage": usage, "parts": parts}


# ---------------------------------------------------------------- passthrough


def _plain_streams() -> list[tuple[bytes, str]]:
    signed_text = text_round("Hello wörld, ça va? 😀 fine", [{"text": "", "thoughtSignature": SIG}])
    client_call = text_round("I'll read it.", [call("read_file", {"path": "/tmp/ü.py"}, SIG), call("grep", {"q": "x"})])
    wrapped = text_round("Wrapped by v1internal.", [{"text": " Done."}], wrapped=True)
    own = text_round("Mine.", [retrieve(SIG)])  # the client's own tool of that name
    tail = text_round("Cut short", [{"text": " by the limit"}], "MAX_TOKENS")
    blocked = [{"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": meta(7), "modelVersion": "gemini-2.5-pro", "responseId": "r"}]
    return [
        (sse(signed_text), TOOL),
        (sse(client_call, compact=True), TOOL),
        (sse(wrapped), TOOL),
        (sse(wrapped, compact=True), TOOL),
        (sse([None] + own + [None, chunk(None, usage=meta(100, 20, 5))]), TOOL + "_2"),  # keepalives, usage after the end
        (sse(tail), TOOL),
        (sse(blocked), TOOL),
    ]


@pytest.mark.parametrize("index", range(7))
def test_stream_without_retrieve_is_byte_identical(index):
    stream, tool = _plain_streams()[index]
    for rng in [None] + [random.Random(seed) for seed in range(30)]:
        splicer = GeminiSplicer(tool)
        out = feed_round(splicer, stream, rng, whole=False)
        result = splicer.finish_round()
        assert not result.retrieve_calls and not result.needs_followup
        assert b"".join(out + splicer.final_events()) == stream


def test_only_the_end_is_held_until_final_events():
    chunks = text_round("one two", [{"text": " three"}], wrapped=True)
    splicer = GeminiSplicer(TOOL)
    early = b"".join(feed_round(splicer, sse(chunks)))
    assert early == sse(chunks[:-1])  # everything but the finish chunk, at once
    result = splicer.finish_round()
    assert early + b"".join(splicer.final_events()) == sse(chunks)
    assert result.complete and result.stop_reason == "STOP" and result.usage == meta(100, 20, 5)


# ---------------------------------------------------------------- retrieve rounds


@pytest.mark.parametrize("wrapped", [False, True])
def test_retrieve_call_is_held_back_and_reported(wrapped):
    round1 = text_round("Let me look at the fold.", [retrieve(SIG)], wrapped=wrapped)
    splicer = GeminiSplicer(TOOL)
    out = b"".join(feed_round(splicer, sse(round1), random.Random(1), whole=False))
    assert out == sse(round1[:-1])  # the text streamed unchanged; the retrieve call's chunk is held
    result = splicer.finish_round()
    assert result.needs_followup and not result.client_tool_calls and result.stop_reason == "STOP"
    [streamed] = result.retrieve_calls
    assert (streamed.call_id, streamed.input, streamed.ref_id, streamed.query) == (f"{TOOL}-1-0", {"id": REF, "query": "timeout"}, REF, "timeout")
    assert json.loads(streamed.raw_input) == streamed.input and streamed.complete
    # text pieces merged, the thought summary and the signed call kept as they came
    thought = {"text": "Considering the fold…", "thought": True}
    assert result.assistant == {"role": "model", "parts": [thought, {"text": "Let me look at the fold."}, retrieve(SIG)]}
    assert result.followup_assistant == result.assistant
    assert splicer.followup_messages(result, {streamed.call_id: "the lines"}) == [
        result.assistant,
        {"role": "user", "parts": [{"functionResponse": {"name": TOOL, "response": {"content": "the lines"}}}]},
    ]
    # the caller stops here: the client gets the end without the call
    stream = out + b"".join(splicer.final_events())
    view = client_view(stream)
    assert TOOL.encode() not in stream and SIG.encode() not in stream
    assert (view["text"], view["calls"], view["finishes"], view["usage"]) == ("Let me look at the fold.", [], ["STOP"], meta(100, 20, 5))
    if wrapped:
        assert all(b'"traceId"' in e.raw for e in SseParser().feed(stream))


@pytest.mark.parametrize("wrapped", [False, True])
def test_two_rounds_make_one_stream(wrapped):
    round1 = text_round("Let me look.", [retrieve(SIG, call_id="fc_1")], usage=meta(1000, 30, 50), wrapped=wrapped)
    round2 = text_round("The log shows a timeout.", [{"text": ""}], usage=meta(1500, 40, 20, cached=900), rid="resp-2", wrapped=wrapped)
    for rng in [None] + [random.Random(seed) for seed in range(10)]:
        stream, results = splice(GeminiSplicer(TOOL), [sse(round1), sse(round2)], rng)
        assert [r.needs_followup for r in results] == [True, False]
        assert results[0].retrieve_calls[0].call_id == "fc_1"
        view = client_view(stream)
        assert view["text"] == "Let me look.\n\nThe log shows a timeout." and view["calls"] == [] and view["finishes"] == ["STOP"]
        # output and thoughts summed; the prompt is the conversation's (round 1); no cache figure round 1 lacked
        assert view["usage"] == {"promptTokenCount": 1000, "candidatesTokenCount": 70, "totalTokenCount": 1140, "thoughtsTokenCount": 70}
        assert [r.usage for r in results] == [meta(1000, 30, 50), meta(1500, 40, 20, cached=900)]
        assert all(("traceId" in json.loads(e.data)) == wrapped for e in SseParser().feed(stream) if e.data)


def test_sum_input_usage_and_text_arriving_with_the_finish():
    round1 = text_round("a", [retrieve()], usage=meta(10, 1, 2, cached=4))
    round2 = [chunk([{"text": "b, all at the end"}], "STOP", meta(30, 3, 1, cached=20), rid="resp-2")]
    stream, results = splice(GeminiSplicer(TOOL, sum_input_usage=True), [sse(round1), sse(round2)])
    view = client_view(stream)
    assert view["text"] == "a\n\nb, all at the end"
    usage = view["usage"]
    assert (usage["promptTokenCount"], usage["cachedContentTokenCount"], usage["candidatesTokenCount"], usage["thoughtsTokenCount"]) == (40, 24, 4, 3)
    assert usage["totalTokenCount"] == 47


def test_three_rounds_and_follow_up_text_starting_with_whitespace():
    rounds = [
        text_round("One.", [{"text": " More."}, retrieve(query="a")], usage=meta(10, 1, 4)),  # text with the call: sent at once
        text_round(" Two.", [retrieve(query="b")], usage=meta(20, 2, 5), rid="r2"),
        text_round("Three.", [{"text": ""}], usage=meta(30, 3), rid="r3"),  # no thinking this time
    ]
    splicer = GeminiSplicer(TOOL)
    stream, results = splice(splicer, [sse(r) for r in rounds], random.Random(4))
    assert [r.retrieve_calls[0].call_id for r in results[:2]] == [f"{TOOL}-1-0", f"{TOOL}-2-0"]
    view = client_view(stream)
    assert view["text"] == "One. More. Two.\n\nThree." and view["finishes"] == ["STOP"]
    assert view["usage"] == {"promptTokenCount": 10, "candidatesTokenCount": 6, "totalTokenCount": 25, "thoughtsTokenCount": 9}


def test_retrieve_call_in_its_own_chunk_is_dropped_and_the_bare_end_held():
    round1 = text_round("Checking.", [{"text": " Now."}])
    round1[-1:] = [chunk([retrieve()], usage=meta(100)), chunk(None, "STOP", meta(100, 20))]
    splicer = GeminiSplicer(TOOL)
    out = feed_round(splicer, sse(round1))
    assert b"".join(out) == sse(round1[:-2])
    result = splicer.finish_round()
    assert result.needs_followup and result.assistant["parts"][-1] == retrieve()
    assert splicer.final_events() == [sse(round1[-1:])]  # the caller stopped: the end as it was


def test_mixed_turn_keeps_the_client_call_and_moves_its_signature():
    round1 = text_round("Reading both.", [call("read_file", {"path": "a.py"}, SIG), retrieve(), call("grep", {"q": "x"})])
    round2 = text_round("The fold says nothing new.", [{"text": ""}], rid="resp-2")
    splicer = GeminiSplicer(TOOL)
    splicer.start_round()
    early = b"".join(feed_round(splicer, sse(round1)))
    assert client_view(early)["calls"] == ["read_file", "grep"] and SIG.encode() in early  # streamed at once
    result = splicer.finish_round()
    assert result.client_tool_calls and result.needs_followup
    assert [p.get("functionCall", {}).get("name") for p in result.assistant["parts"]] == [None, None, "read_file", TOOL, "grep"]
    # no client call in the follow-up (Gemini would want its response); Gemini 3 wants the first call signed
    assert result.followup_assistant["parts"][-1] == retrieve(SIG)
    assert len(result.followup_assistant["parts"]) == 3
    splicer.start_round()
    rest = feed_round(splicer, sse(round2))
    splicer.finish_round()
    view = client_view(early + b"".join(rest + splicer.final_events()))
    assert view["calls"] == ["read_file", "grep"] and view["finishes"] == ["STOP"]
    assert view["text"] == "Reading both.\n\nThe fold says nothing new."
    assert [p["thoughtSignature"] for p in view["parts"] if "thoughtSignature" in p] == [SIG]


def test_follow_up_may_call_client_tools_too():
    round1 = text_round("Checking.", [retrieve(SIG)])
    round2 = text_round("Now run it.", [call("run_shell_command", {"command": "pytest -q"}, SIG2)], rid="resp-2")
    stream, results = splice(GeminiSplicer(TOOL), [sse(round1), sse(round2)], random.Random(5))
    assert results[1].client_tool_calls and not results[1].needs_followup
    view = client_view(stream)
    assert view["calls"] == ["run_shell_command"] and view["finishes"] == ["STOP"]
    assert view["parts"][-1] == call("run_shell_command", {"command": "pytest -q"}, SIG2)


def test_error_chunk_passes_through_and_ends_the_stream():
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    round1 = text_round("a", [retrieve()])
    round2 = text_round("partial answer", [{"text": "!"}], rid="resp-2")[:2] + [error]
    stream, results = splice(GeminiSplicer(TOOL), [sse(round1), sse(round2)])
    assert results[1].error == error["error"] and not results[1].complete and not results[1].needs_followup
    assert stream.endswith(sse(round2[-1:]))  # the error as it came, nothing added
    view = client_view(stream)
    assert view["text"] == "a\n\npartial" and view["finishes"] == []
    # an error after a retrieve call (here in v1internal's wrapper): no follow-up for it
    failed = text_round("b", [retrieve()], wrapped=True)[:-1] + [chunk([retrieve()], wrapped=True), {"response": error, "traceId": "t"}]
    splicer = GeminiSplicer(TOOL)
    out = feed_round(splicer, sse(failed))
    result = splicer.finish_round()
    assert result.error == error["error"] and result.retrieve_calls and not result.needs_followup
    assert b"".join(out + splicer.final_events()) == sse(failed[:-2] + failed[-1:])


def test_cut_off_stream_gets_nothing_added():
    stream = sse(text_round("cut off here", [{"text": "."}])[:-1]) + b'data: {"candidates": [{"content'
    splicer = GeminiSplicer(TOOL)
    out = feed_round(splicer, stream, random.Random(3), whole=False)
    result = splicer.finish_round()
    assert not result.complete and not result.needs_followup and splicer.final_events() == []
    assert b"".join(out) == stream
    # a retrieve call without its round's end is not answered either
    splicer = GeminiSplicer(TOOL)
    feed_round(splicer, sse(text_round("x", [retrieve()])[:-1] + [chunk([retrieve()])]))
    result = splicer.finish_round()
    assert result.retrieve_calls and not result.retrieve_calls[0].complete and not result.needs_followup
    assert splicer.final_events() == []


# ---------------------------------------------------------------- the follow-up body


def _bodies() -> list[tuple[str, tuple]]:
    request = {"contents": [{"role": "user", "parts": [{"text": "Why did it fail?"}]}], "tools": [{"functionDeclarations": [{"name": TOOL}]}], "generationConfig": {"temperature": 0}}
    wrapped = {"model": "gemini-2.5-pro", "project": "p-1", "user_prompt_id": "u#1", "request": request}
    return [(json.dumps(request, indent=1), ("contents",)), (json.dumps(wrapped), ("request", "contents"))]


@pytest.mark.parametrize("index", range(2))
def test_follow_up_body_appends_to_contents_keeping_the_bytes(index):
    body, path = _bodies()[index]
    round1 = text_round("Looking.", [retrieve(SIG, call_id="fc_9"), retrieve(query="second")])
    splicer = GeminiSplicer(TOOL)
    feed_round(splicer, sse(round1))
    result = splicer.finish_round()
    answers = {"fc_9": "line 1\nline 2", f"{TOOL}-1-1": "nothing"}
    new = splicer.follow_up_body(body, result, answers)
    end = find_spans(body, [], [path])[path][1] - 1  # the contents array's closing bracket
    model, user = splicer.followup_messages(result, answers)
    assert new == body[:end] + "," + dumps(model) + "," + dumps(user) + body[end:]
    contents = json.loads(new)["request"]["contents"] if len(path) == 2 else json.loads(new)["contents"]
    assert contents[-2]["parts"][-2] == retrieve(SIG, call_id="fc_9")
    assert f'"thoughtSignature":"{SIG}"' in new  # the signature's bytes as streamed
    assert contents[-1] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": TOOL, "response": {"content": "line 1\nline 2"}, "id": "fc_9"}},
            {"functionResponse": {"name": TOOL, "response": {"content": "nothing"}}},
        ],
    }


def test_lifecycle_misuse_is_refused():
    splicer = GeminiSplicer(TOOL)
    splicer.start_round()  # before the first round: nothing to do
    splicer.feed(SseParser().feed(sse(text_round("a", [{"text": "b"}]))[:40]))
    with pytest.raises(RuntimeError):
        splicer.start_round()
    splicer.finish_round()
    with pytest.raises(RuntimeError):
        splicer.feed([])


def test_follow_up_carries_an_original_image_beside_the_function_responses():
    round1 = text_round("Looking.", [retrieve(SIG, call_id="fc_1"), retrieve(query="second")])
    splicer = GeminiSplicer(TOOL)
    feed_round(splicer, sse(round1))
    result = splicer.finish_round()
    answers = {"fc_1": GeminiMedia().original_answer("data:image/jpeg;base64,/9j/AA=="), f"{TOOL}-1-1": "nothing"}
    body, path = _bodies()[1]  # Gemini CLI's wrapped body: the turn goes inside `request`
    new = splicer.follow_up_body(body, result, answers)
    model, user = splicer.followup_messages(result, answers)
    end = find_spans(body, [], [path])[path][1] - 1
    assert new == body[:end] + "," + dumps(model) + "," + dumps(user) + body[end:]
    first, second, image = user["parts"]
    assert first["functionResponse"]["id"] == "fc_1" and "original image (image/jpeg)" in first["functionResponse"]["response"]["content"]
    assert second == {"functionResponse": {"name": TOOL, "response": {"content": "nothing"}}}
    assert image == {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/AA=="}}
