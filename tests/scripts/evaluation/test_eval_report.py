"""eval_report: agreement per group, the table, the JSON report and the dry run's list."""

from __future__ import annotations

import json

from rich.console import Console

from scripts.evaluation.answer_comparison import Comparison
from scripts.evaluation.eval_report import groups, render_dry_run, render_table, report_json, summarize
from scripts.evaluation.eval_run import PairResult, SideResult
from scripts.evaluation.recorded_flows import RecordedRequest, Skipped
from scripts.evaluation.resend_requests import ResendRequest


def pair(kinds: tuple, tools: tuple, verdict: str | None, cost: float = 0.01, state: str = "done") -> PairResult:
    recorded = RecordedRequest("f", "anthropic", "https://api.anthropic.com/v1/messages", False, (), b"{}", b"{}", kinds, tools, None, False)
    sides = [SideResult(ResendRequest(s, "anthropic", recorded.url, {}, b"{}", "claude-x", 512, True), 100, 0.02, cost_usd=cost / 2) for s in ("original", "forwarded")]
    comparison = None
    if verdict:
        comparison = Comparison(verdict != "differ", verdict == "agree", verdict == "agree", 1.0 if verdict == "agree" else 0.0, None, verdict == "retrieve", verdict)
    return PairResult(recorded, state, *sides, comparison=comparison)


PAIRS = [pair(("test",), ("Bash",), "agree"), pair(("test", "log"), ("Bash",), "differ"), pair(("json",), ("Read",), "retrieve"),
         pair(("json",), ("Read",), None, state="over_budget", cost=0)]  # fmt: skip


def test_groups_count_each_pair_under_each_of_its_kinds_and_tools():
    rows = {g.name: g for g in groups(PAIRS)}
    assert list(rows) == ["all", "kind: json", "kind: log", "kind: test", "tool: Bash", "tool: Read"]
    assert rows["all"].n == 3 and rows["all"].agree == 1 / 3 and rows["all"].retrieve == 1 / 3
    assert rows["kind: test"].n == 2 and rows["kind: test"].agree == 0.5 and rows["kind: log"].agree == 0
    assert rows["all"].argument_share == 1 / 3 and rows["all"].text_similarity is None
    assert abs(rows["all"].cost_usd - 0.03) < 1e-9


def test_table_and_json_report():
    summary = summarize(PAIRS, [Skipped("g", "u", "no segment was compressed")], {"pricing": "t (as of x)", "similarity": "difflib", "budget_usd": 1.0})
    assert summary["states"] == {"done": 3, "over_budget": 1} and summary["skip_reasons"] == {"no segment was compressed": 1}
    console = Console(record=True, width=160)
    render_table(PAIRS, summary, console)
    text = console.export_text()
    assert "kind: test" in text and "33%" in text and "eval cost $0.0300 of the $1.00 budget" in text and "1 over_budget" in text
    report = json.loads(json.dumps(report_json(PAIRS, [], summary)))  # JSON-serialisable
    assert report["results"][0]["comparison"]["verdict"] == "agree" and report["results"][0]["original"]["tokens"] == 100
    assert report["groups"][0]["name"] == "all"


def test_dry_run_lists_each_pair_and_what_a_budget_would_send():
    planned = [pair(("test",), ("Bash",), None, state="planned") for _ in range(3)]
    console = Console(record=True, width=160)
    render_dry_run(planned, 0.05, console)
    text = console.export_text()
    assert "nothing is sent" in text and text.count("claude-x") == 3 and "$0.0400" in text
    assert "estimated cost at most $0.1200 for 3 pairs; a $0.05 budget sends the first 1" in text


def test_reports_never_show_an_api_key_in_a_url():
    from scripts.evaluation.eval_report import redacted

    assert redacted("https://g.example/v1beta/models/m:generateContent?key=SECRET&x=1") == "https://g.example/v1beta/models/m:generateContent?key=REDACTED&x=1"
    assert redacted("https://api.anthropic.com/v1/messages") == "https://api.anthropic.com/v1/messages"
