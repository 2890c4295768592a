"""The Headroom content view: before/after of requests the real Compression addon rewrote."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from mitmproxy import contentviews, http
from mitmproxy.test import taddons, tflow

from addon.view.flow_view import FlowView, HeadroomView, compare, report_line, value_at
from addon.assembly import HeadroomAddons
from compressors import compress
from compressors.tokens import count_tokens
from tests.support.bodies import anthropic_tool_turn, noisy_log

LOG = noisy_log(300)
FOLDED = compress(LOG).text
LEDGER = "ledger: in 50 · cache read 1,000 · out 20 · $0.0123 · saved $0.0045 (headroom-list-prices-2025-11)"


@contextlib.contextmanager
def view_loaded() -> Iterator[FlowView]:
    """The view's addon loaded as mitmproxy loads it, and unloaded (`done`) afterwards."""
    addon = FlowView()
    with taddons.context(addon):
        try:
            yield addon
        finally:
            addon.done()


def request_flow(body: bytes, path: str = "/v1/messages", host: str = "api.anthropic.com") -> http.HTTPFlow:
    return tflow.tflow(req=http.Request.make("POST", f"https://{host}{path}", body, {"content-type": "application/json"}))


def rewritten(tmp_path: Path, body: bytes, path: str = "/v1/messages", host: str = "api.anthropic.com") -> http.HTTPFlow:
    """A flow as the real Compression addon leaves it, exact token counts included."""

    async def scenario() -> http.HTTPFlow:
        addons = HeadroomAddons()
        rewrite = addons.compression
        with taddons.context(addons.hosts, addons.storage, addons.cache, rewrite) as tctx:
            tctx.configure(rewrite, headroom_home=str(tmp_path), headroom_workers=1)
            flow = request_flow(body, path, host)
            try:
                await rewrite.request(flow)
                await asyncio.gather(*rewrite._background)
            finally:
                rewrite.done()
                addons.storage.done()
            flow.response = tflow.tresp(content=b'{"type": "message"}')
            return flow

    return asyncio.run(scenario())


def anthropic_body(output: str = LOG) -> bytes:
    return json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": anthropic_tool_turn(output)}).encode()


def render(flow: http.HTTPFlow, message: http.Message | None = None, view: str = "auto") -> tuple[str, list[str]]:
    """What mitmweb would show: the description and each line's text."""
    description, lines, error = contentviews.get_message_content_view(view, message or flow.request, flow)
    assert error is None, error
    return description, ["".join(text for _, text in line) for line in lines]


def between(lines: list[str], start: str, end: str | None) -> list[str]:
    first = next(i for i, line in enumerate(lines) if line.startswith(start)) + 1
    last = next((i for i, line in enumerate(lines) if end and i >= first and line.startswith(end)), len(lines))
    return lines[first:last]


def test_a_rewritten_request_opens_in_the_view_with_before_and_after(tmp_path):
    flow = rewritten(tmp_path, anthropic_body())
    assert flow.metadata["headroom_original"] == anthropic_body()
    flow.metadata["headroom_ledger"] = LEDGER
    with view_loaded():
        description, lines = render(flow)
    before, after = count_tokens(LOG), count_tokens(FOLDED)
    assert description.startswith(f"Headroom: {before:,} → {after:,} tokens (−") and "in 1 of 1 segments [log]" in description
    assert lines[0].startswith(f"headroom: {before:,} → {after:,} tokens")
    assert lines[1] == "ledger:   " + LEDGER.removeprefix("ledger: ")
    [title] = [line for line in lines if line.startswith("segment ")]
    assert title.startswith(f"segment 1 of 1: log · tool output of Bash · {before:,} → {after:,} tokens")
    sent = json.loads(flow.request.content)["messages"][2]["content"][0]["content"]
    assert sent == FOLDED
    assert between(lines, "── after", "── before") == FOLDED.splitlines()
    assert between(lines, "── before", None) == LOG.splitlines()  # and nothing else changed


def test_the_view_shows_the_context_window_of_the_request(tmp_path):
    flow = rewritten(tmp_path, anthropic_body())
    with view_loaded():
        _, lines = render(flow)
    [window] = [line for line in lines if line.startswith("context window: ")]
    assert "forwarded" in window and "new in this request" in window
    assert any(line.startswith("by tool:") and "Bash" in line for line in lines)
    units = [line for line in lines if line.startswith("#")]
    assert len(units) == len(flow.metadata["headroom"]["composition"]) == 4
    assert "tool/tool_result new · Bash" in units[-1] and "compressed (log, lossless)" in units[-1]
    # a request that was not rewritten shows its window too, when picked by hand
    plain = request_flow(anthropic_body("short"))
    plain.metadata["headroom"] = {"rewritten": [], "composition": flow.metadata["headroom"]["composition"][:1]}
    with view_loaded():
        _, lines = render(plain, view="headroom")
    assert any(line.startswith("#0 user/text") for line in lines)


def test_other_messages_and_flows_are_left_to_mitmproxy(tmp_path):
    flow = rewritten(tmp_path, anthropic_body())
    plain = request_flow(json.dumps({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}).encode())
    view = HeadroomView()
    with view_loaded():
        assert render(flow, flow.response)[0] != "Headroom" and view.render_priority(flow.response.content, flow=flow, http_message=flow.response) == 0
        assert render(plain)[0] == "JSON"
        assert view(plain.request.content, flow=plain, http_message=plain.request) is None
        assert render(plain, view="headroom")[0].startswith("Couldn't parse")  # picked by hand: mitmproxy's Raw
        # a recorded LLM flow that was not rewritten: JSON by default, the ledger line on demand
        plain.metadata["headroom_ledger"] = LEDGER
        assert render(plain)[0] == "JSON"
        description, lines = render(plain, view="headroom")
        assert description == "Headroom: not rewritten" and lines[0] == "ledger:   " + LEDGER.removeprefix("ledger: ")
        assert json.loads("\n".join(lines[2:])) == json.loads(plain.request.content)


def test_the_view_is_registered_while_loaded():
    assert contentviews.get("Headroom") is None
    with view_loaded() as addon:
        assert contentviews.get("headroom") is addon.view
        addon.done()
        assert contentviews.get("Headroom") is None
        addon.load(None)  # a script reload: load again after done
        assert contentviews.get("Headroom") is addon.view
    assert contentviews.get("Headroom") is None


def test_segments_are_found_again_by_path():
    original = {"input": [{"type": "function_call_output", "call_id": "c", "output": [{"type": "input_text", "text": "A" * 300}, {"type": "input_text", "text": "keep"}]}]}
    forwarded = json.loads(json.dumps(original))
    forwarded["input"][0]["output"][0]["text"] = "A…"
    forwarded["tools"] = [{"type": "function", "name": "headroom_retrieve"}]
    report = {"rewritten": [{"kind": "text", "source": "tool_output", "tool_name": None, "tokens_before": 40, "tokens_after": 2, "memo": False}]}
    diff = compare("/v1/responses", json.dumps(original).encode(), json.dumps(forwarded).encode(), report)
    [change] = diff.segments
    assert (change.path, change.before, change.after, change.entry) == (("input", 0, "output", 0, "text"), "A" * 300, "A…", report["rewritten"][0])
    # everything else that changed, as a diff of the JSON: the added tool, not the segment again
    added = [line for line in diff.other if line.startswith("+") and not line.startswith("+++")]
    assert diff.other[:2] == ["--- original", "+++ forwarded"] and any('"headroom_retrieve"' in line for line in added)
    assert not any("A…" in line for line in diff.other)
    # a report that does not match the changes: the texts are still shown, without figures
    [unpaired] = compare("/v1/responses", json.dumps(original).encode(), json.dumps(forwarded).encode(), {"rewritten": []}).segments
    assert unpaired.entry is None and unpaired.after == "A…"
    assert compare("/v1/responses", b"not json", b"{}", report) is None
    assert compare("/v1/other", b"{}", b"{}", report) is None
    assert value_at(original, ("input", 5, "output")) is None and value_at(original, ("input", 0, "call_id")) == "c"


def test_a_body_that_no_longer_parses_falls_back_to_raw(tmp_path):
    flow = rewritten(tmp_path, anthropic_body())
    flow.metadata["headroom_original"] = b"\xff not json"
    flow.metadata["headroom"]["retrieve_tool"] = "headroom_retrieve"
    with view_loaded():
        description, lines = render(flow, view="headroom")
    assert description == "Headroom: not rewritten"  # the report head, the window, then the body as text
    assert lines[0].startswith("headroom: ") and lines[1].startswith("also:     tool headroom_retrieve added")
    body = next(i for i, line in enumerate(lines) if line.startswith("{"))
    assert json.loads("\n".join(lines[body:])) == json.loads(flow.request.content)


def test_report_lines():
    counted = {"segments": 3, "ms": 2.5, "tokens_before": 1000, "tokens_after": 250, "rewritten": [
        {"kind": "log", "tokens_before": 600, "tokens_after": 100}, {"kind": "json", "tokens_before": 400, "tokens_after": 150}]}  # fmt: skip
    assert report_line(counted) == "1,000 → 250 tokens (−75%) in 2 of 3 segments [json, log], 2.5 ms"
    uncounted = {**counted, "rewritten": [{"kind": "log", "tokens_before": None, "tokens_after": None}]}
    assert report_line(uncounted).startswith("counting tokens… in 1 of 3 segments [log]")
    assert report_line({"segments": 2, "rewritten": []}) == "2 segments, nothing compressed"
    assert report_line({"error": "ValueError: bad"}) == "passed through unchanged: ValueError: bad"
