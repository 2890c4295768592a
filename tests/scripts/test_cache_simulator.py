"""The prompt-cache simulator's prefix rules and prices, and bench_cost end to end on a tiny replay."""

from __future__ import annotations

import json

import pytest

from addon.ledger.pricing import load_pricing
from scripts import bench_cost
from scripts.cache_simulator import TTL_1H, CacheSimulator, anthropic_units, min_cacheable

PRICES = load_pricing()
SONNET = "claude-sonnet-4-5"
BIG = "alpha beta gamma delta " * 400  # ~1,600 tokens: above Sonnet's 1,024 minimum


def sim(provider: str = "anthropic", model: str = SONNET, **kw) -> CacheSimulator:
    return CacheSimulator(provider, model, PRICES.price_for(model), **kw)


def body(*texts: str, system: str = BIG) -> dict:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]
    return {"model": SONNET, "system": system, "messages": messages}


def test_unchanged_prefix_reads_and_the_new_tail_is_written():
    s = sim()
    first = s.request(body("run the tests"), 0)
    assert first.cache_read_tokens == 0 and first.cache_write_5m_tokens == first.prompt_tokens  # end-of-prompt breakpoint
    second = s.request(body("run the tests", "ok", "now lint"), 20)
    assert second.cache_read_tokens == first.prompt_tokens
    assert second.cache_write_5m_tokens == second.prompt_tokens - first.prompt_tokens
    assert second.input_tokens == 0


def test_a_changed_earlier_message_breaks_the_cache_from_that_point():
    s = sim()
    s.request(body("run the tests", "ok", "output A " * 50), 0)
    # same length, one word changed in the middle message: nothing after the system prompt matches
    again = s.request(body("run the tests", "OK", "output A " * 50, "next", "more"), 20)
    assert again.cache_read_tokens == 0  # the only entry was at the old end of the prompt
    s2 = sim()
    s2.request({**body("q"), "system": [{"type": "text", "text": BIG, "cache_control": {"type": "ephemeral"}}]}, 0)
    changed = s2.request({**body("q2", "a", "x"), "system": [{"type": "text", "text": BIG, "cache_control": {"type": "ephemeral"}}]}, 10)
    system_tokens = anthropic_units({"system": [{"type": "text", "text": BIG}]})[0].tokens
    assert changed.cache_read_tokens == system_tokens  # the system breakpoint still reads


def test_ttl_expiry_and_refresh_on_read():
    s = sim()
    first = s.request(body("a"), 0)
    assert s.request(body("a", "b", "c"), 299).cache_read_tokens == first.prompt_tokens  # alive; refreshed to 599
    late = s.request(body("a", "b", "c", "d", "e"), 299 + 301)
    assert late.cache_read_tokens == 0 and late.cache_write_5m_tokens == late.prompt_tokens
    h = sim(default_ttl=TTL_1H)
    h.request(body("a"), 0)
    hour = h.request(body("a", "b", "c"), 3000)
    assert hour.cache_read_tokens > 0 and hour.cache_write_1h_tokens > 0 and hour.cache_write_5m_tokens == 0


def test_minimum_cacheable_length_per_model():
    assert min_cacheable("claude-sonnet-4-5") == 1024 and min_cacheable("claude-3-5-haiku-latest") == 2048
    small = body("a", system="short system prompt")
    s = sim()
    assert s.request(small, 0).cache_write_5m_tokens == 0
    assert s.request(small, 1).cache_read_tokens == 0  # never cached
    mid = body("a", system="word " * 1500)  # between the two minimums
    assert sim().request(mid, 0).cache_write_5m_tokens > 0
    assert sim(model="claude-3-5-haiku-20241022").request(mid, 0).cache_write_5m_tokens == 0


def test_write_and_read_prices():
    price = PRICES.price_for(SONNET)
    s = sim()
    first = s.request(body("a"), 0, output_tokens=100)
    n = first.cache_write_5m_tokens
    assert first.dollars == pytest.approx((n * price.cache_write_5m + 100 * price.output) / 1e6)
    assert price.cache_write_5m == pytest.approx(1.25 * price.input) and price.cache_read == pytest.approx(0.1 * price.input)
    again = s.request(body("a"), 1)
    assert again.cache_read_tokens == n and again.dollars == pytest.approx(n * price.cache_read / 1e6)


def test_explicit_breakpoints_at_most_four_and_1h_price():
    blocks = [{"type": "text", "text": BIG + str(i), "cache_control": {"type": "ephemeral", "ttl": "1h"}} for i in range(5)]
    with pytest.raises(ValueError):
        sim().request({"system": blocks, "messages": []}, 0)
    billed = sim().request({"system": blocks[:1], "messages": [{"role": "user", "content": "hi"}]}, 0)
    assert billed.cache_write_1h_tokens > 0 and billed.input_tokens > 0  # the tail after the breakpoint is plain input


def test_openai_automatic_prefix_in_128_token_blocks():
    s = sim("openai", "gpt-4.1")
    messages = [{"role": "system", "content": BIG}, {"role": "user", "content": "a"}]
    first = s.request({"messages": messages}, 0)
    assert first.cache_read_tokens == 0 and first.cache_write_tokens == 0
    second = s.request({"messages": messages + [{"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]}, 5)
    assert second.cache_read_tokens >= 1024 and (second.cache_read_tokens - 1024) % 128 == 0
    assert second.cache_read_tokens <= first.prompt_tokens
    short = sim("openai", "gpt-4.1")
    short.request({"messages": [{"role": "user", "content": "tiny"}]}, 0)
    assert short.request({"messages": [{"role": "user", "content": "tiny"}]}, 1).cache_read_tokens == 0


# ---- bench_cost end to end ------------------------------------------------------------------


@pytest.fixture
def tiny() -> bench_cost.Conversation:
    return bench_cost.generated_conversation(turns=3)


@pytest.mark.parametrize("provider", ["anthropic", "openai", "responses", "gemini"])
def test_headroom_is_never_above_direct_and_keeps_its_prefixes(tiny, provider):
    results = {arm: bench_cost.replay(tiny, provider, "20s", arm) for arm in bench_cost.ARMS}
    direct = results["direct"]
    assert direct.requests == 4 and direct.breaks == 0
    for arm in ("headroom", "headroom, lossless"):
        r = results[arm]
        assert r.compressed_segments > 0
        assert r.dollars <= direct.dollars and r.tokens_sent < direct.tokens_sent
    # lossless: every forwarded prompt starts with the previous one (no break caused by Headroom)
    assert results["headroom, lossless"].breaks == 0
    # lossy: the one break is the retrieve tool joining `tools` with the first fold
    assert results["headroom"].breaks <= 1


def test_a_proxy_restart_mid_replay_changes_no_forwarded_byte(tiny):
    a = bench_cost.replay(tiny, "anthropic", "pauses", "headroom", restart=True)
    b = bench_cost.replay(tiny, "anthropic", "pauses", "headroom", restart=False)
    assert [r["cache_read_tokens"] for r in a.per_request] == [r["cache_read_tokens"] for r in b.per_request]
    assert a.dollars == pytest.approx(b.dollars)


def test_anthropic_conversion_alternates_roles_and_keeps_tool_pairs(tiny):
    converted = bench_cost.anthropic_body(tiny.messages[:-1], tiny.tools)
    roles = [m["role"] for m in converted["messages"]]
    assert all(x != y for x, y in zip(roles, roles[1:]))
    uses = [b["id"] for m in converted["messages"] for b in m["content"] if b["type"] == "tool_use"]
    results = [b["tool_use_id"] for m in converted["messages"] for b in m["content"] if b["type"] == "tool_result"]
    assert uses == results and converted["tools"][0]["input_schema"]["type"] == "object"


def test_json_output(tmp_path, capsys, tiny):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": tiny.id, "messages": tiny.messages, "tools": tiny.tools}) + "\n")
    assert bench_cost.main(["--corpus", str(corpus), "--no-generated", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["never_above_direct"] is True
    assert {(t["provider"], t["schedule"], t["arm"]) for t in report["totals"]} == {
        (p, s, a) for p in bench_cost.PROVIDERS for s in bench_cost.SCHEDULES for a in bench_cost.ARMS
    }


def test_responses_and_gemini_bodies_replay_the_same_turns(tiny):
    """The conversation converted to Responses items and Gemini contents keeps every turn, and
    both are billed by their own prefix rule (a repeated prompt reads its cached prefix)."""
    requests = bench_cost.requests_of(tiny)
    messages, _ = requests[-1]
    responses = bench_cost.responses_body(messages, tiny.tools)
    gemini = bench_cost.gemini_body(messages, tiny.tools)
    calls = sum(len(m.get("tool_calls") or []) for m in messages)
    assert sum(i.get("type") == "function_call" for i in responses["input"]) == calls
    assert sum(i.get("type") == "function_call_output" for i in responses["input"]) == sum(m["role"] == "tool" for m in messages)
    assert sum("functionCall" in p for c in gemini["contents"] for p in c["parts"]) == calls
    assert all(a["role"] != b["role"] for a, b in zip(gemini["contents"], gemini["contents"][1:]))  # turns alternate
    for provider, body in (("responses", responses), ("gemini", gemini)):
        price = load_pricing().price_for(bench_cost.MODELS[provider])
        simulator = CacheSimulator(provider, bench_cost.MODELS[provider], price)
        first, again = simulator.request(body, 0.0), simulator.request(body, 10.0)
        assert first.cache_read_tokens == 0 and again.cache_read_tokens > 0
