import json

from addon.compression.decision_memo import DecisionMemo
from addon.compression.pipeline import rewrite_body
from addon.compression.rewrite_report import RewriteReport, SegmentOutcome, SegmentReport
from addon.provenance.composition import Composer, SegmentRecord
from addon.providers import provider_named
from compressors import Result

LOG = "\n".join(f"2026-01-01 INFO request {i} served in {i % 7} ms" for i in range(300))


def _body(results: int = 1) -> dict:
    messages: list[dict] = [{"role": "user", "content": "Why is it slow?"}]
    for n in range(results):
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": "Reading the log."},
            {"type": "tool_use", "id": f"t{n}", "name": "Read", "input": {"file_path": "/w/app.log"}},
        ]})  # fmt: skip
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": LOG}]})
    return {"model": "claude-x", "system": "You are terse.", "tools": [{"name": "Read", "input_schema": {}}], "messages": messages}


def test_every_unit_has_its_place_role_source_and_fate():
    provider = provider_named("anthropic")
    body = _body(2)
    path = ("messages", 4, "content", 0, "content")
    report = RewriteReport("anthropic")
    report.outcomes = [
        SegmentOutcome(("messages", 2, "content", 0, "content"), "whole", "seen by the provider before any decision"),
        SegmentOutcome(path, "compressed", "", "log", ("a" * 24,)),
    ]
    report.rewritten = [SegmentReport("log", "tool_output", "Read", 3000, 400, False, "k", path)]
    records = Composer().compose(provider, body, report)
    assert [r.at for r in records] == [
        "tools[0]", "system", "messages[0]", "messages[1].content[0]", "messages[1].content[1]",
        "messages[2].content[0]", "messages[3].content[0]", "messages[3].content[1]", "messages[4].content[0]",
    ]  # fmt: skip
    assert [r.role for r in records] == ["tools", "system", "user", "assistant", "assistant", "tool", "assistant", "assistant", "tool"]
    assert [r.new for r in records] == [False] * 8 + [True]
    first, last = records[5], records[8]
    assert first.source == last.source == "Read /w/app.log" and first.type == "tool_result"
    assert (first.fate, first.reason, first.sent == first.tokens) == ("whole", "seen by the provider before any decision", True)
    assert (last.fate, last.kind, last.mode, last.ids) == ("compressed", "log", "lossy", ("a" * 24,))
    assert last.sent == last.tokens - 2600
    assert first.content == last.content  # the same text read twice: a repeat
    assert records[0].source == "Read" and records[2].fate == "untouched"
    assert SegmentRecord.from_dict(json.loads(json.dumps(last.as_dict()))) == last


def test_the_pipeline_leaves_the_composition_for_the_counting_step(tmp_path):
    memo, composer = DecisionMemo(tmp_path / "memo"), Composer()
    shorter = lambda text, context: Result(text[: len(text) // 3], "log", True)  # noqa: E731
    raw = json.dumps(_body(1)).encode()
    _, report = rewrite_body(raw, provider_named("anthropic"), memo, compress_fn=shorter, exact_counts=False, composer=composer)
    assert not report.counted and report.as_dict()["composing"] and report.composition is None
    from addon.compression.rewrite_report import count_tokens_for

    count_tokens_for(report, memo)
    assert report.counted and not report.as_dict()["composing"]
    result = report.composition[-1]
    assert (result["fate"], result["kind"], result["mode"], result["new"]) == ("compressed", "log", "lossless", True)
    assert result["sent"] < result["tokens"] and result["source"] == "Read /w/app.log"
    # re-sent next turn: the memo replays the decision, and the unit says so
    body = _body(1)
    body["messages"] += [{"role": "assistant", "content": [{"type": "text", "text": "Done."}]}, {"role": "user", "content": "thanks"}]
    _, again = rewrite_body(json.dumps(body).encode(), provider_named("anthropic"), memo, compress_fn=shorter, composer=composer)
    replayed = [r for r in again.composition if r["type"] == "tool_result"]
    assert [(r["fate"], r["new"]) for r in replayed] == [("replayed", False)]


def test_without_a_composer_nothing_waits(tmp_path):
    _, report = rewrite_body(json.dumps(_body(1)).encode(), provider_named("anthropic"), DecisionMemo(tmp_path), exact_counts=False)
    assert report.composer is None and report.composition is None


def test_a_failing_composition_costs_only_itself(tmp_path):
    from addon.compression.rewrite_report import count_tokens_for

    report = RewriteReport("anthropic")
    report.composer = lambda r: 1 / 0
    count_tokens_for(report, DecisionMemo(tmp_path))
    assert report.counted and report.composition is None


def test_openai_chat_and_gemini_sources_come_from_their_calls():
    chat = {"model": "gpt", "messages": [
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "shell", "arguments": '{"command": "ls -la"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "a\nb"},
    ]}  # fmt: skip
    records = Composer().compose(provider_named("openai_chat"), chat, RewriteReport("openai_chat"))
    assert [(r.role, r.type, r.source) for r in records] == [
        ("user", "text", ""), ("assistant", "tool_call", "shell $ ls -la"), ("tool", "tool_result", "shell $ ls -la"),
    ]  # fmt: skip
    gemini = {"model": "m", "project": "p", "request": {"contents": [
        {"role": "user", "parts": [{"text": "read it"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {"file_path": "/a.txt"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "read_file", "response": {"output": "hello"}}}]},
    ]}}  # fmt: skip
    records = Composer().compose(provider_named("gemini"), gemini, RewriteReport("gemini"))
    assert [r.source for r in records] == ["", "read_file /a.txt", "read_file /a.txt"] and records[2].new


def test_images_count_by_the_providers_formula_and_their_reduction_shows():
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1500, 1000), "white").save(buffer, "PNG")
    data = base64.b64encode(buffer.getvalue()).decode()
    body = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
        {"type": "text", "text": "what is this?"},
    ]}]}  # fmt: skip
    path = ("messages", 0, "content", 0, "source", "data")
    report = RewriteReport("anthropic")
    report.rewritten = [SegmentReport("image", "image", None, 1500, 900, False, "", path)]
    report.outcomes = [SegmentOutcome(path, "compressed", "", "image", ("b" * 24,))]
    [image, text] = Composer().compose(provider_named("anthropic"), body, report)
    assert (image.type, image.tokens, image.fate, image.kind, image.ids) == ("image", provider_named("anthropic").media.tokens((1500, 1000)), "compressed", "image", ("b" * 24,))
    assert image.sent == image.tokens - 600 and text.type == "text"
    chat = {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64," + data}}]}]}
    [unit] = Composer().compose(provider_named("openai_chat"), chat, RewriteReport("openai_chat"))
    assert unit.tokens == provider_named("openai_chat").media.tokens((1500, 1000)) and unit.type == "image"


def test_an_answer_to_a_call_the_request_does_not_carry_keeps_the_call_id():
    chained = {"model": "gpt", "previous_response_id": "resp_1", "input": [{"type": "function_call_output", "call_id": "call_9", "output": "a\nb"}]}
    [unit] = Composer().compose(provider_named("openai_responses"), chained, RewriteReport("openai_responses"))
    assert (unit.source, unit.call) == ("", "call_9") and unit.as_dict()["call"] == "call_9"


def test_calls_are_read_from_any_apis_response():
    from addon.provenance.composition import response_calls

    responses = {"response": {"output": [{"type": "function_call", "call_id": "c1", "name": "shell", "arguments": '{"command": ["ls"]}'}]}}
    anthropic = {"content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "a.py"}}]}
    chat = {"choices": [{"message": {"role": "assistant", "tool_calls": [{"id": "x1", "function": {"name": "Bash", "arguments": '{"command": "make"}'}}]}}]}
    gemini = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"id": "g1", "name": "read_file", "args": {"file_path": "/b"}}}]}}]}
    assert response_calls(responses) == {"c1": "shell $ ls"}
    assert response_calls(anthropic) == {"t1": "Read a.py"}
    assert response_calls(chat) == {"x1": "Bash $ make"}
    assert response_calls(gemini) == {"g1": "read_file /b"}
    assert response_calls([1]) == {} and response_calls({"output": "text"}) == {}
