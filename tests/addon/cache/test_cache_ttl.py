"""TTL choice from the gaps between a thread's turns."""

from __future__ import annotations

from addon.cache.cache_ttl import TTL_1H, TTL_5M, choose_ttl


def test_short_gaps_keep_five_minutes():
    choice = choose_ttl([20, 30, 15, 40], prefix_tokens=40_000, new_tokens=2_000)
    assert choice.ttl == TTL_5M and choice.cost_5m < choice.cost_1h
    assert "0 of 4 gaps > 5 min" in choice.reason


def test_sub_agent_pauses_past_five_minutes_make_one_hour_cheaper():
    choice = choose_ttl([20, 420, 25, 30, 480], prefix_tokens=40_000, new_tokens=2_000)
    assert choice.ttl == TTL_1H and choice.cost_1h < choice.cost_5m
    assert choice.long_gaps == 2 and "→ 1h" in choice.reason


def test_few_gaps_or_gaps_past_an_hour_keep_the_default():
    assert choose_ttl([600, 700], 40_000, 2_000).ttl == TTL_5M  # no evidence yet
    assert choose_ttl([4000, 5000, 7200], 40_000, 2_000).ttl == TTL_5M  # both expire: 5m writes cost less
    # the exact break-even: one long gap in many short ones does not pay for 2x writes of every new token
    assert choose_ttl([20] * 30 + [400], 10_000, 5_000).ttl == TTL_5M
