"""What provenance costs: time to build each request's composition, and the ledger's growth.

Replays the whole Claude Code sessions of `../shared/corpus/claude_code/conversations.jsonl` as
the proxy sees them: one request per model turn, each re-sending the conversation so far. Every
request goes through `rewrite_body` with a composer (as the proxy runs it); the composition's
time is measured on its own (the counting step builds it, off the critical path), and the
compositions are written to a ledger file as the proxy writes them (deltas over units stored
once). Printed per session and in all: requests, units per request, composition ms p50/p99,
ledger bytes per request, and what storing every request's records in full would take.
Usage: scripts/bench_provenance.py [--sessions PATH] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.compression.decision_memo import DecisionMemo  # noqa: E402
from addon.compression.pipeline import rewrite_body  # noqa: E402
from addon.compression.rewrite_report import count_tokens_for  # noqa: E402
from addon.ledger.ledger_table import LedgerRow, connect, insert  # noqa: E402
from addon.ledger.provenance_table import CompositionWriter  # noqa: E402
from addon.provenance.composition import Composer  # noqa: E402
from addon.providers import provider_named  # noqa: E402
from compressors import Result  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "corpus" / "claude_code" / "conversations.jsonl"
ANTHROPIC = provider_named("anthropic")


def requests_of(messages: list[dict]) -> list[list[dict]]:
    """The conversation as sent before each model turn (ends on a user message)."""
    return [messages[:i] for i, m in enumerate(messages) if m.get("role") == "assistant" and i > 0]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(path: Path, limit: int | None) -> list[dict]:
    rows = []
    work = Path(tempfile.mkdtemp(prefix="headroom-provenance-"))
    whole = lambda text, context: Result(text, "text", True)  # noqa: E731 - compression is not what is measured
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()[:limit]):
        session = json.loads(line)
        memo, composer = DecisionMemo(work / f"memo{n}"), Composer()
        db = connect(work / f"ledger{n}.sqlite3")
        writer = CompositionWriter()
        ms, units, full_bytes = [], [], 0
        requests = requests_of(session["messages"])
        for k, messages in enumerate(requests):
            body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": messages}).encode()
            _, report = rewrite_body(body, ANTHROPIC, memo, compress_fn=whole, exact_counts=False, composer=composer)
            started = time.perf_counter()
            count_tokens_for(report, memo)
            ms.append((time.perf_counter() - started) * 1000)
            records = report.composition or []
            units.append(len(records))
            full_bytes += sum(len(json.dumps(r)) for r in records)
            insert(db, [LedgerRow(float(k), "anthropic", "claude-sonnet-4-5", f"s{n}", composition=records)], writer)
        db.close()
        size = sum(p.stat().st_size for p in work.glob(f"ledger{n}.sqlite3*"))
        rows.append({
            "session": " ".join(session["id"].split(":")[1:])[:40], "requests": len(requests),
            "units p50": percentile(units, 0.5), "units max": max(units or [0]),
            "compose ms p50": round(percentile(ms, 0.5), 1), "compose ms p99": round(percentile(ms, 0.99), 1),
            "ledger KB": round(size / 1024), "full copies KB": round(full_bytes / 1024),
        })  # fmt: skip
        memo.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=Path, default=DEFAULT)
    parser.add_argument("--limit", type=int, default=None, help="only the first N sessions")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.sessions.exists():
        sys.exit(f"bench_provenance: {args.sessions} not found (the corpus lives in ../shared/corpus)")
    rows = measure(args.sessions, args.limit)
    total = {
        "session": "all", "requests": sum(r["requests"] for r in rows), "units p50": "", "units max": max(r["units max"] for r in rows),
        "compose ms p50": "", "compose ms p99": "", "ledger KB": sum(r["ledger KB"] for r in rows), "full copies KB": sum(r["full copies KB"] for r in rows),
    }  # fmt: skip
    if args.json:
        print(json.dumps(rows + [total], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Provenance cost on whole Claude Code sessions (one request per model turn)")
    for name in rows[0]:
        table.add_column(name, justify="left" if name == "session" else "right")
    for row in rows + [total]:
        table.add_row(*(str(v) for v in row.values()))
    Console(width=160).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
