"""Cross-turn repeats in whole sessions: how many tokens of tool output repeat an earlier one.

Over `../shared/corpus/claude_code/conversations.jsonl` (whole Claude Code sessions as Anthropic
Messages lists): every tool result is compared with the earlier results of its session. Exact
repeats (the same text, at least 256 characters) are what the proxy sends as a reference to the
earlier call (`segment_decisions.repeat_decision`, lossless: the earlier copy is in the same
prompt); near repeats (the same tool and file or command, a line diff under half the output:
a file re-read after an edit, a test re-run) as the proxy sends them, a unified diff against the
earlier output (`repeated_outputs.delta_decision`; the proxy also requires the earlier output to
have gone whole, which this count assumes). Figures are o200k tokens of each result once, as first sent.
Usage: scripts/bench_repeats.py [--sessions PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.compression.repeated_outputs import REPEAT_NOTE, delta_text  # noqa: E402
from addon.compression.segment_decisions import MIN_SEGMENT_CHARS  # noqa: E402
from compressors.tokens import count_tokens  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "corpus" / "claude_code" / "conversations.jsonl"


def results_of(messages: list[dict]) -> list[tuple[str, str, str]]:
    """(call id, what it read or ran, result text) for every tool result, in order."""
    calls: dict[str, str] = {}
    out = []
    for message in messages:
        for block in message.get("content") if isinstance(message.get("content"), list) else []:
            if block.get("type") == "tool_use":
                args = block.get("input") or {}
                calls[block["id"]] = f"{block.get('name')}:{args.get('file_path') or args.get('command') or json.dumps(args, sort_keys=True)[:200]}"
            elif block.get("type") == "tool_result":
                content = block.get("content")
                text = content if isinstance(content, str) else "\n".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
                out.append((block.get("tool_use_id", ""), calls.get(block.get("tool_use_id", ""), ""), text))
    return out


def measure(path: Path) -> dict:
    figures = {"sessions": 0, "results": 0, "tokens": 0, "exact": 0, "exact_tokens": 0, "exact_after": 0, "near": 0, "near_tokens": 0, "near_after": 0}
    for line in path.read_text(encoding="utf-8").splitlines():
        session = json.loads(line)
        figures["sessions"] += 1
        seen: dict[str, str] = {}  # text -> first call id
        last_by_target: dict[str, tuple[str, str]] = {}  # the latest (call, output) of each file or command
        for call_id, target, text in results_of(session["messages"]):
            tokens = count_tokens(text)
            figures["results"] += 1
            figures["tokens"] += tokens
            if len(text) >= MIN_SEGMENT_CHARS and text in seen and seen[text] != call_id:
                figures["exact"] += 1
                figures["exact_tokens"] += tokens
                figures["exact_after"] += count_tokens(REPEAT_NOTE.format(call_id=seen[text]))
            elif target and target in last_by_target and len(text) >= MIN_SEGMENT_CHARS and last_by_target[target][1] != text:
                earlier_call, earlier_text = last_by_target[target]
                diff = delta_text(earlier_call, earlier_text, text)  # what the proxy sends (repeated_outputs.py)
                if diff is not None:
                    figures["near"] += 1
                    figures["near_tokens"] += tokens
                    figures["near_after"] += count_tokens(diff)
            seen.setdefault(text, call_id)
            if target:
                last_by_target[target] = (call_id, text)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=Path, default=DEFAULT)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.sessions.exists():
        sys.exit(f"bench_repeats: sessions not found at {args.sessions} (use --sessions)")
    f = measure(args.sessions)
    if args.json:
        print(json.dumps(f, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    pct = lambda a: f"{100 * a / f['tokens']:.2f}%" if f["tokens"] else "–"  # noqa: E731
    table = Table(title=f"Cross-turn repeats in {f['sessions']} whole sessions ({f['results']:,} tool results, {f['tokens']:,} tokens)")
    for name in ("repeats", "results", "tokens", "share of tool-result tokens", "tokens sent", "saved"):
        table.add_column(name, justify="right" if name != "repeats" else "left")
    table.add_row("exact (sent as a reference)", f"{f['exact']:,}", f"{f['exact_tokens']:,}", pct(f["exact_tokens"]), f"{f['exact_after']:,}", f"{f['exact_tokens'] - f['exact_after']:,}")
    table.add_row("near (sent as a diff)", f"{f['near']:,}", f"{f['near_tokens']:,}", pct(f["near_tokens"]), f"{f['near_after']:,}", f"{f['near_tokens'] - f['near_after']:,}")
    Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
