"""What a mitmweb user sees: rewritten flows carry before/after token counts and a mark."""

from __future__ import annotations

import re

import anthropic
from mitmproxy import io

from tests.support.bodies import anthropic_tool_turn, noisy_log
from tests.support.mock_provider import default_reply


def test_rewritten_flow_records_token_counts(make_proxy, mock, monkeypatch, tmp_path):
    saved = tmp_path / "flows.mitm"
    proxy = make_proxy(f"save_stream_file={saved}")

    def think(request):  # a model takes a while; exact counts finish before it answers
        reply = default_reply(request)
        reply.delay_s = 1.0
        return reply

    mock.responder = think
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
        client.messages.create(model="claude-test", max_tokens=16, messages=anthropic_tool_turn(noisy_log()))
        client.messages.create(model="claude-test", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    proxy.stop()  # flushes the flow file
    with saved.open("rb") as f:
        flows = list(io.FlowReader(f).stream())
    compressed, plain = flows[0], flows[1]
    match = re.search(r"headroom: ([\d,]+) → ([\d,]+) tokens \(−(\d+)%\)", compressed.comment)
    assert match, compressed.comment
    before, after = (int(g.replace(",", "")) for g in match.groups()[:2])
    assert before > 3 * after > 0
    assert compressed.marked == ":scissors:"
    meta = compressed.metadata["headroom"]
    assert meta["tokens_before"] == before and meta["rewritten"][0]["kind"] == "log"
    assert plain.comment == "" and not plain.marked
