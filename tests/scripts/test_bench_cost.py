"""The cost replay's arms on small generated conversations: the aligned arm keeps a prefix
that the client's own clock breaks, and no arm costs more than direct."""

from __future__ import annotations

from scripts.bench_cost import dynamic_system_conversation, generated_conversation, replay


def test_the_aligner_keeps_the_prefix_a_clock_in_the_system_prompt_breaks():
    conversation = dynamic_system_conversation(turns=6)
    direct = replay(conversation, "anthropic", "20s", "direct")
    compressed = replay(conversation, "anthropic", "20s", "headroom")
    aligned = replay(conversation, "anthropic", "20s", "headroom, aligned")
    assert direct.breaks == compressed.breaks == 6  # every request re-writes the whole prompt
    # at most one break: the retrieve tool arriving with the first fold that pays for it
    assert aligned.breaks <= 1 and aligned.cache_read_tokens > compressed.cache_read_tokens
    assert aligned.dollars < compressed.dollars < direct.dollars


def test_one_hour_entries_after_sub_agent_pauses_never_cost_more_than_direct():
    conversation = generated_conversation(turns=12)
    direct = replay(conversation, "anthropic", "pauses", "direct")
    aligned = replay(conversation, "anthropic", "pauses", "headroom, aligned")
    assert any(r["cache_write_1h_tokens"] for r in aligned.per_request)  # the TTL choice went to 1 hour
    assert aligned.dollars < direct.dollars
