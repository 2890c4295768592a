"""Request material for the tests: tool outputs that compress and conversations that grow."""

from __future__ import annotations

import json


def noisy_log(n: int = 300, needle: str = "ERROR payment-service: card declined for order 48213") -> str:
    """A log with long runs of one repeated line (the simple compressors fold them) and a needle."""
    lines = ["2026-11-25 10:00:00 INFO starting worker pool (8 workers)"]
    lines += ["WARN upstream db-1 slow, retrying request with exponential backoff policy"] * n
    lines.append(needle)
    lines += ["INFO heartbeat ok from worker pool, all queues drained and idle"] * n
    lines.append("2026-11-25 10:05:00 INFO shutdown complete")
    return "\n".join(lines)


def anthropic_tool_turn(tool_output: str, query: str = "why did the payment fail?") -> list[dict]:
    """A conversation ending in a fresh Bash tool_result."""
    return [
        {"role": "user", "content": query},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me read the log."},
                {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "cat /var/log/app.log"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": tool_output}]},
    ]


def openai_tool_turn(tool_output: str, query: str = "why did the payment fail?") -> list[dict]:
    return [
        {"role": "system", "content": "You are a helpful agent."},
        {"role": "user", "content": query},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "shell", "arguments": json.dumps({"cmd": "cat app.log"})}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": tool_output},
    ]


def growing_anthropic_conversation(turns: int) -> list[list[dict]]:
    """The messages of each request of a `turns`-turn agent loop, each a prefix of the next."""
    messages: list[dict] = [{"role": "user", "content": "find the failing payment and explain it"}]
    requests = [list(messages)]
    for t in range(1, turns):
        messages.append(
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": f"toolu_{t:02d}", "name": "Bash", "input": {"command": f"cat part{t}.log"}}],
            }
        )
        output = noisy_log(150 + 10 * t, needle=f"ERROR step {t}: card declined for order {48000 + t}")
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{t:02d}", "content": output}]})
        requests.append(json.loads(json.dumps(messages)))
    return requests


# The breakpoints Headroom places (addon/cache/cache_breakpoints.py): instructions, not prompt text,
# so the tail one moves from turn to turn like a client's own; byte checks leave them out.
PLACED_BREAKPOINTS = (b',"cache_control":{"type":"ephemeral"}', b',"cache_control":{"type":"ephemeral","ttl":"1h"}')


def without_placed_breakpoints(raw: bytes) -> bytes:
    for literal in PLACED_BREAKPOINTS:
        raw = raw.replace(literal, b"")
    return raw
