"""Quality benchmark: every compressor over the real agent tool outputs in ../shared/corpus.

Each case goes through the proxy's own decision rule (size threshold, compress, keep only if it
saves enough), so the figures are what a user's requests would get. Arms:

- headroom:       the compressors as designed (lossy folds, recoverable with retrieval);
- lossless:       lossless transforms only (what the proxy applies until retrieval exists);
- head+tail:      plain truncation of each case to the token budget headroom reached.

Needle retention is per needle (`needle in output`), over cases with needles. "Reachable" also
counts a needle as kept when it sits in folded content behind a note (retrieval brings it back).
Claude Code cases (`../shared/corpus/claude_code/tool_outputs.jsonl`) go in as Claude Code sends
them: the real tool name and its `tool_input`. `--split heldout|train` keeps one side of the
split by session (each transcript version is a session; held out: sha256(source) % 3 == 0), so
tuning happens on `train` and figures are reported on `heldout`.
Usage: scripts/bench_compress.py [--corpus PATH] [--by kind|kind_hint|tool] [--split all|train|heldout] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.providers.provider import parse_arguments  # noqa: E402
from addon.compression.segment_decisions import Policy, decide  # noqa: E402
from compressors import Context, Settings, compress  # noqa: E402
from compressors.notes import NOTE_PATTERN  # noqa: E402
from compressors.tokens import count_tokens, counts_are_exact, shared_encoding  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "tool_outputs.jsonl"
TRUNCATION_NOTE = "\n[… truncated …]\n"
_FAILING_LINE = re.compile(r"\b(FAIL|FAILED|ERROR|Error|failed)\b")
_LOSSLESS_NOTE = re.compile(r"^\[(previous line repeated \d+ more times|lines \d+-\d+ repeat line \d+)\]$", re.M)


@dataclass
class Case:
    id: str
    kind_hint: str
    text: str
    context: Context
    needles: list[str]
    error_needles: list[str]
    tool: str = ""


@dataclass
class Outcome:
    kind: str
    tokens_before: int
    tokens_after: int
    ms: float | None
    kept: int
    reachable: int
    errors_kept: int


@dataclass
class Row:
    cases: int = 0
    before: int = 0
    after: int = 0
    needles: int = 0
    kept: int = 0
    reachable: int = 0
    errors: int = 0
    errors_kept: int = 0
    ms: list[float] = field(default_factory=list)

    def add(self, case: Case, outcome: Outcome) -> None:
        self.cases += 1
        self.before += outcome.tokens_before
        self.after += outcome.tokens_after
        self.needles += len(case.needles)
        self.kept += outcome.kept
        self.reachable += outcome.reachable
        self.errors += len(case.error_needles)
        self.errors_kept += outcome.errors_kept
        if outcome.ms is not None:
            self.ms.append(outcome.ms)

    def figures(self) -> dict:
        pct = lambda a, b: round(100 * a / b, 1) if b else None  # noqa: E731
        ms = sorted(self.ms)
        return {
            "cases": self.cases,
            "tokens_before": self.before,
            "tokens_after": self.after,
            "reduction_pct": pct(self.before - self.after, self.before),
            "needle_retention_pct": pct(self.kept, self.needles),
            "reachable_pct": pct(self.reachable, self.needles),
            "error_retention_pct": pct(self.errors_kept, self.errors),
            "p50_ms": round(statistics.median(ms), 2) if ms else None,
            "p99_ms": round(ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))], 2) if ms else None,
        }


def context_for(case: dict) -> Context:
    """The tool call as the proxy would know it from the request."""
    tool, command = case.get("tool") or "", case.get("command") or ""
    if isinstance(case.get("tool_input"), dict):  # Claude Code: the tool_use block's own input
        args = case["tool_input"]
        path = next((v for k in ("file_path", "notebook_path", "path") if isinstance(v := args.get(k), str)), None)
        return Context(tool, args, path, case.get("query", ""))
    if case["id"].startswith("tau:"):
        return Context(tool, parse_arguments(command), None, case.get("query", ""))
    if tool == "bash":
        return Context("bash", {"command": command}, None, case.get("query", ""))
    args = command.split()[1:] if command.startswith(tool) else command.split()
    path = next((a.strip("\"'") for a in args if "/" in a or "." in a), None)
    return Context(tool, {"args": command, **({"path": path} if path else {})}, path, case.get("query", ""))


def error_needles(case: dict) -> list[str]:
    """Needles of kind error, and failing-test names (named on a FAIL/ERROR line)."""
    out = []
    lines = case["text"].split("\n")
    for needle, kind in zip(case["needles"], case["needle_kinds"]):
        if kind == "error":
            out.append(needle)
        elif needle.startswith("test") and any(needle in line and _FAILING_LINE.search(line) for line in lines):
            out.append(needle)
    return out


# The compressors a corpus kind_hint may rightly go to (the hint comes from the command; the
# content can make another kind the better fit, e.g. a test run that prints a traceback).
EXPECTED_KINDS = {
    "api_response": {"json"},
    "file_read": {"code", "text", "json", "html", "log", "search", "build"},  # heredoc + build runs
    "grep": {"search"},
    "file_list": {"search"},
    "vcs": {"diff", "log"},  # `git checkout x && python script.py`
    "build": {"build", "log", "test"},
    "test": {"test", "log", "code"},
    "traceback": {"log", "test", "build"},
    "html": {"html", "log"},  # build logs and curl traces that mention some HTML
    "script_run": {"log", "test", "build", "search", "code", "json", "html"},
    "shell": {"log", "test", "build", "search", "code", "json", "html", "diff", "text"},
    "shell_edit": {"log", "test", "build", "search", "code", "json", "html", "diff"},
    "edit_result": {"text", "code", "log"},
    "tool_special": {"text", "log", "search"},
    "http": {"json", "html", "log", "text"},
}


def routing_table(cases: list[Case]) -> dict[str, dict[str, int]]:
    """kind_hint -> routed kind -> cases, for cases the proxy would consider (>= 1,000 chars)."""
    from compressors.detect import choose_kind
    from compressors.numbered_lines import split_numbered
    from compressors.router import agent_output

    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for case in cases:
        if len(case.text) < 1000:
            continue
        text = agent_output(case.text)
        numbered = split_numbered(text)
        content = "\n".join(n.content for n in numbered) if numbered else text
        table[case.kind_hint][choose_kind(content, case.context)] += 1
    return table


def heldout(source: str) -> bool:
    """Whether a session (a transcript version, or a trajectory) is in the held-out split."""
    return int(hashlib.sha256(source.encode()).hexdigest(), 16) % 3 == 0


def tool_group(tool: str) -> str:
    """The per-tool table's row: the tool's name, every MCP tool of a server as one row."""
    if tool.startswith("mcp__"):
        return "mcp__" + tool.split("__")[1] + "__*"
    return tool or "(none)"


def load_cases(path: Path, limit: int | None, split: str = "all") -> list[Case]:
    cases = []
    with path.open() as f:
        for line in f:
            raw = json.loads(line)
            if split != "all" and heldout(raw.get("source") or raw["id"]) != (split == "heldout"):
                continue
            cases.append(Case(raw["id"], raw["kind_hint"], raw["text"], context_for(raw), raw["needles"], error_needles(raw), raw.get("tool") or ""))
            if limit and len(cases) >= limit:
                break
    return cases


def outcome_for(case: Case, output: str, kind: str, ms: float | None, before: int) -> Outcome:
    folded = output != case.text and (NOTE_PATTERN.search(output) or _LOSSLESS_NOTE.search(output) or TRUNCATION_NOTE in output)
    kept = [n for n in case.needles if n in output]
    reachable = len(kept) + (sum(1 for n in case.needles if n not in output and n in case.text) if folded else 0)
    errors_kept = sum(1 for n in case.error_needles if n in output)
    after = count_tokens(output) if output is not case.text else before
    return Outcome(kind, before, after, ms, len(kept), reachable, errors_kept)


def run_headroom(case: Case, settings: Settings, policy: Policy, before: int) -> Outcome:
    started = time.perf_counter()
    lossless = settings.lossless_only()
    decision = decide(case.text, case.context, policy, lambda t, c: compress(t, c, settings=settings), lambda t, c: compress(t, c, settings=lossless))
    ms = (time.perf_counter() - started) * 1000
    output = decision.text if decision.text is not None else case.text
    return outcome_for(case, output, decision.kind, ms if decision.kind != "small" else None, before)


def head_tail(text: str, budget: int) -> str:
    """Plain truncation: the first and last budget/2 tokens."""
    encoding = shared_encoding()
    if encoding is None:
        half = budget * 2
        return text if len(text) <= 4 * budget else text[:half] + TRUNCATION_NOTE + text[-half:]
    tokens = encoding.encode_ordinary(text)
    if len(tokens) <= budget:
        return text
    half = max(1, budget // 2)
    return encoding.decode(tokens[:half]) + TRUNCATION_NOTE + encoding.decode(tokens[-half:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--by", choices=("kind", "kind_hint", "tool"), default="kind", help="group rows by routed kind, corpus kind_hint or tool")
    parser.add_argument("--split", choices=("all", "train", "heldout"), default="all", help="one side of the split by session")
    parser.add_argument("--limit", type=int, help="only the first N cases")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not args.corpus.exists():
        sys.exit(f"bench_compress: corpus not found at {args.corpus} (use --corpus)")
    cases = load_cases(args.corpus, args.limit, args.split)
    policy = Policy()
    arms = {"headroom": Settings(), "lossless": Settings(default_mode="lossless")}
    groups: dict[str, dict[str, Row]] = defaultdict(lambda: defaultdict(Row))
    totals: dict[str, Row] = defaultdict(Row)
    for case in cases:
        before = count_tokens(case.text)
        results = {arm: run_headroom(case, settings, policy, before) for arm, settings in arms.items()}
        budget = results["headroom"].tokens_after
        truncated = head_tail(case.text, budget) if budget < before else case.text
        results["head+tail"] = outcome_for(case, truncated, "head+tail", None, before)
        key = {"kind": results["headroom"].kind, "kind_hint": case.kind_hint, "tool": tool_group(case.tool)}[args.by]
        for arm, outcome in results.items():
            groups[key][arm].add(case, outcome)
            totals[arm].add(case, outcome)
    routing = routing_table(cases)
    routed_well = sum(n for hint, kinds in routing.items() for kind, n in kinds.items() if kind in EXPECTED_KINDS.get(hint, ()))
    report = {
        "corpus": str(args.corpus),
        "split": args.split,
        "routing": {hint: dict(kinds) for hint, kinds in sorted(routing.items())},
        "routed_as_expected_pct": round(100 * routed_well / max(1, sum(sum(k.values()) for k in routing.values())), 1),
        "exact_tokens": counts_are_exact(),
        "totals": {arm: row.figures() for arm, row in totals.items()},
        "groups": {key: {arm: row.figures() for arm, row in rows.items()} for key, rows in sorted(groups.items())},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print_tables(report, args.by)
    return 0


def print_tables(report: dict, by: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=170)
    columns = ("cases", "tokens_before", "tokens_after", "reduction_pct", "needle_retention_pct", "reachable_pct", "error_retention_pct", "p50_ms", "p99_ms")
    headers = ("cases", "tokens before", "tokens after", "reduction %", "needles kept %", "reachable %", "errors kept %", "p50 ms", "p99 ms")
    table = Table(title=f"Compression quality by {by} (o200k tokens{'' if report['exact_tokens'] else ', ESTIMATED'})")
    table.add_column(by)
    table.add_column("arm")
    for header in headers:
        table.add_column(header, justify="right")
    for key, rows in [*report["groups"].items(), ("ALL", report["totals"])]:
        for arm, figures in rows.items():
            table.add_row(key, arm, *("" if figures[c] is None else f"{figures[c]:,}" for c in columns))
        table.add_section()
    console.print(table)
    routing = Table(title=f"Routing of cases >= 1,000 chars: corpus kind_hint → compressor ({report['routed_as_expected_pct']}% to an expected kind)")
    kinds = sorted({k for row in report["routing"].values() for k in row})
    routing.add_column("kind_hint")
    for kind in kinds:
        routing.add_column(kind, justify="right")
    for hint, row in report["routing"].items():
        cells = []
        for kind in kinds:
            n = row.get(kind, 0)
            cells.append("" if not n else (f"{n}" if kind in EXPECTED_KINDS.get(hint, ()) else f"[red]{n}[/red]"))
        routing.add_row(hint, *cells)
    console.print(routing)


if __name__ == "__main__":
    sys.exit(main())
