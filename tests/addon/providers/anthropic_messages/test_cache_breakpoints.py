"""Anthropic breakpoints: placed only where the client placed none, within the rules."""

from __future__ import annotations

import json

from addon.providers.anthropic_messages.cache_breakpoints import client_breakpoints, place, raise_to_1h
from addon.wire.json_splice import splice


def body(turns: int, block_chars: int = 2_000, system: object = None) -> dict:
    messages: list[dict] = [{"role": "user", "content": "go"}]
    for t in range(turns):
        messages.append({"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "tool_use", "id": f"t{t}", "name": "Bash", "input": {}}]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{t}", "content": "x" * block_chars}]})
    out = {"model": "claude-sonnet-4-5", "max_tokens": 10, "tools": [{"name": "Bash", "input_schema": {"type": "object"}}], "messages": messages}
    if system is not None:
        out["system"] = system
    return out


def apply(document: dict, edits) -> dict:
    return json.loads(splice(json.dumps(document), edits))


def test_at_most_four_spaced_breakpoints_with_the_static_front_first():
    document = body(40, system=[{"type": "text", "text": "rules " * 2000}])
    placed = place(document, "5m", 1024)
    assert placed.added == 4
    marked = client_breakpoints(apply(document, placed.edits))
    assert marked[0] == ("system", 0)
    blocks = [p for p in marked if p[0] == "messages"]
    assert blocks[-1] == ("messages", 80, "content", 0)  # the tail
    # spaced so that each lookback window (20 blocks) overlaps the next
    flat = [(i, k) for i, m in enumerate(document["messages"]) for k in range(len(m["content"]) if isinstance(m["content"], list) else 1)]
    positions = [flat.index((p[1], p[3])) for p in blocks]
    assert all(0 < b - a <= 20 for a, b in zip(positions, positions[1:]))


def test_thinking_blocks_are_never_marked_and_short_prefixes_get_nothing():
    document = body(3, block_chars=100)
    assert place(document, "5m", 1024).added == 0  # under the minimum cacheable length
    document = body(3, block_chars=3_000)
    marked = client_breakpoints(apply(document, place(document, "5m", 1024).edits))
    for path in marked:
        assert document["messages"][path[1]]["content"][path[3]]["type"] != "thinking"


def test_a_client_that_placed_breakpoints_is_left_alone_and_a_string_system_is_not_touched():
    document = body(5)
    document["messages"][-1]["content"][0]["cache_control"] = {"type": "ephemeral"}
    assert place(document, "5m", 1024).edits == []
    document = body(5, system="a plain string system prompt " * 500)
    document["tools"][0]["description"] = "runs a command " * 400
    forwarded = apply(document, place(document, "5m", 1024).edits)
    assert forwarded["system"] == document["system"]
    assert ("tools", 0) in client_breakpoints(forwarded)  # the static front ends at the last tool


def test_client_breakpoints_are_raised_to_one_hour_unless_it_chose_ttls():
    document = body(2)
    document["system"] = [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]
    document["messages"][-1]["content"][0]["cache_control"] = {"type": "ephemeral", "ttl": "5m"}
    raised = apply(document, raise_to_1h(document).edits)
    assert raised["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert raised["messages"][-1]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    document["system"][0]["cache_control"]["ttl"] = "1h"  # the client mixes TTLs itself
    assert raise_to_1h(document).edits == []
