"""Cache alignment end to end: the official SDK through real mitmdump, 20 turns whose system
prompt carries a clock, the proxy restarted half-way. What the provider receives keeps one
prefix (Headroom's moving tail breakpoint aside), carries breakpoints, and gets the 1-hour TTL
that the client's turn gaps in the ledger call for."""

from __future__ import annotations

import json
import time

import anthropic

from addon.ledger.ledger_table import LedgerRow, LedgerWriter, ledger_path, read_rows
from addon.ledger.usage import Usage
from tests.e2e.test_prefix_stability import messages_prefix
from tests.support.bodies import noisy_log, without_placed_breakpoints


def system_at(turn: int) -> str:
    return (
        "You are a payments debugging agent. Follow the runbook.\n" + "Runbook step: read the logs before acting.\n" * 150
        + f"<env>Today's date: 2026-11-{20 + turn // 8:02d}. Time: {10 + turn // 4:02d}:{3 * turn:02d}:00</env>"
    )  # fmt: skip


def turns(n: int) -> list[list[dict]]:
    messages: list[dict] = [{"role": "user", "content": "find the failing payment"}]
    out = [json.loads(json.dumps(messages))]
    for t in range(1, n):
        messages.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_{t:02d}", "name": "Bash", "input": {"command": f"tail part{t}.log"}}]})
        log = noisy_log(60 + t, needle=f"ERROR step {t}: card declined for order {48000 + t}")
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{t:02d}", "content": log}]})
        out.append(json.loads(json.dumps(messages)))
    return out


TOOLS = [{"name": "Bash", "description": "Run a shell command.", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]


def test_twenty_turns_with_a_clock_keep_one_prefix_across_a_restart(make_proxy, mock, monkeypatch):
    proxy = make_proxy()
    sent = []
    for turn, messages in enumerate(turns(20)):
        if turn == 10:
            proxy.restart()  # the kept front and its notes come back from the store
        with proxy.client_env(monkeypatch):
            client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
            client.messages.create(model="claude-sonnet-4-5", max_tokens=16, system=system_at(turn), tools=TOOLS, messages=messages)
        sent.append(mock.llm_requests()[-1])
    for previous, current in zip(sent, sent[1:]):
        assert without_placed_breakpoints(current.raw).startswith(messages_prefix(previous.raw)), "the forwarded prefix changed"
    last = sent[-1].json
    assert last["system"] == system_at(0)  # as first sent, so the cache holds
    notes = [b["text"] for m in last["messages"] if isinstance(m["content"], list) for b in m["content"] if b.get("type") == "text"]
    assert notes and "Time: 14:57:00" in notes[-1]  # the model is told the current values at the end
    marked = [b for m in last["messages"] if isinstance(m["content"], list) for b in m["content"] if "cache_control" in b]
    assert 1 <= len(marked) <= 4
    assert "card declined for order 48019" in json.dumps(last)  # compressed, needles kept


def test_the_ttl_follows_the_clients_turn_gaps_in_the_ledger(make_proxy, mock, monkeypatch, tmp_path):
    home = tmp_path / "ttl-home"
    writer = LedgerWriter(ledger_path(home))
    start = time.time() - 6 * 3600
    usage = Usage(200, 30_000, 1_500, 0, 80, "claude-sonnet-4-5")
    for k in range(8):  # an earlier session of the same client: a sub-agent holds the thread 7 minutes at a time
        ts = start + k * 420
        writer.submit(lambda ts=ts: LedgerRow(ts, "anthropic", "claude-sonnet-4-5", "s0", usage=usage, client="Anthropic", thread="earlier"))
    assert writer.flush()
    writer.close()
    proxy = make_proxy(home=home)
    time.sleep(1.0)  # the proxy reads the ledger in the background at start
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
        client.messages.create(model="claude-sonnet-4-5", max_tokens=16, system=system_at(0), tools=TOOLS, messages=turns(3)[-1])
    seen = mock.llm_requests()[-1].json
    marks = [b["cache_control"] for m in seen["messages"] if isinstance(m["content"], list) for b in m["content"] if "cache_control" in b]
    assert marks and all(mark == {"type": "ephemeral", "ttl": "1h"} for mark in marks)
    rows = []
    for _ in range(100):  # the row is written after the response
        rows = [r for r in read_rows(ledger_path(home)) if r.thread != "earlier"]
        if rows:
            break
        time.sleep(0.1)
    assert rows and rows[-1].cache_ttl == "1h" and rows[-1].client == "Anthropic"
    assert "gaps > 5 min" in rows[-1].cache["ttl_reason"]
