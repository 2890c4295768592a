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


def test_a_claude_code_session_replays_as_anthropic_traffic_and_costs_less(tmp_path):
    import json

    from scripts.bench_cost import load_claude_code, run

    log = "\n".join(f"2026-11-25 10:{i // 60:02d}:{i % 60:02d} INFO batch {i} accepted in {i % 9} ms" for i in range(600))
    messages = [{"role": "user", "content": "why does ledger-sync fail?"}]
    for k in range(5):
        messages.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_{k}", "name": "Bash", "input": {"command": f"tail -n 600 sync{k}.log"}}]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{k}", "content": log.replace("batch", f"run{k} batch")}]})
    messages.append({"role": "assistant", "content": [{"type": "text", "text": "Batch 7781 failed its checksum."}]})
    path = tmp_path / "sessions.jsonl"
    path.write_text(json.dumps({"id": "cc:test", "messages": messages}) + "\n")
    [session] = load_claude_code(path)
    assert session.native and [t["name"] for t in session.tools] == ["Bash"]
    results = run([session])
    assert {r.provider for r in results} == {"anthropic"}  # a Claude Code session is Anthropic traffic only
    by_arm = {(r.schedule, r.arm): r for r in results}
    for schedule in ("20s", "pauses"):
        assert by_arm[(schedule, "headroom")].dollars < by_arm[(schedule, "direct")].dollars
        assert all(r.not_above_direct for r in results)
