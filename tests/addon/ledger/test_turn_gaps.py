"""Turn gaps per client from ledger rows, and the TTL reasoning `headroom stats` prints."""

from __future__ import annotations

from addon.ledger.ledger_table import LedgerRow
from addon.ledger.turn_gaps import client_turns
from addon.ledger.usage import Usage
from scripts.ledger_stats import cache_groups


def row(ts: float, thread: str, client: str = "claude-cli", cache: dict | None = None, role: str = "client") -> LedgerRow:
    usage = Usage(500, 40_000, 2_000, 0, 100, "claude-sonnet-4-5")
    return LedgerRow(ts, "anthropic", "claude-sonnet-4-5", "s", role=role, usage=usage, client=client, thread=thread, cache=cache or {})


def test_gaps_are_per_thread_so_interleaved_sub_agents_do_not_hide_the_pauses():
    rows = [row(0, "main"), row(10, "sub"), row(20, "sub"), row(30, "sub"), row(450, "main"), row(460, "sub"), row(900, "main"), row(1350, "main")]
    rows.append(row(1351, "main", role="follow_up"))  # the proxy's own requests are not turns
    turns = client_turns(rows)["claude-cli"]
    assert sorted(turns.gaps) == [10, 10, 430, 450, 450, 450]
    assert turns.threads == {"main", "sub"} and turns.requests == 8
    assert turns.mean_cached == 40_000 and turns.mean_new == 2_500


def test_stats_explain_the_ttl_and_count_prefix_breaks_by_cause():
    brk = {"prefix_break": {"at": "system", "tokens": 10, "of": 9_000, "cause": "date"}}
    rows = [row(0, "a"), row(420, "a", cache=brk), row(840, "a", cache={"moved": ["time"], "breakpoints": 2}), row(1260, "a"), row(1280, "b", client="OpenAI")]
    [claude, openai] = cache_groups(rows)
    assert (claude.client, claude.ttl, claude.prefix_breaks, claude.fronts_kept, claude.breakpoints) == ("claude-cli", "1h", {"date": 1}, 1, 2)
    assert "3 of 3 gaps > 5 min" in claude.ttl_reason and "→ 1h" in claude.ttl_reason
    assert openai.ttl == "5m" and "fewer than 3" in openai.ttl_reason
