#!/usr/bin/env python3
"""JSON compressor benchmark: arrays of similar objects with planted outliers.

Generates (seeded, deterministic) arrays of 100, 1,000 and 10,000 job records as an API would
return them, plants four items a model must not lose (a rare status, an error message, a
numeric outlier, the item whose id the query names), runs compress_json and prints items,
tokens before/after, reduction, planted outliers kept and milliseconds (median of runs), and
what the lossless table form alone (lossless_only=True) would give.
Targets: >= 80% fewer tokens with every planted outlier kept; < 20 ms for 1,000 items.

Usage: scripts/bench_json.py [--sizes 100,1000,10000] [--indent N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from compressors.json_crusher import compress_json  # noqa: E402
from compressors.tokens import count_tokens, counts_are_exact  # noqa: E402
from compressors.types import Context  # noqa: E402

REGIONS = ["eu-west-1", "us-east-1", "us-west-2", "ap-south-1"]
STATUSES = ["succeeded"] * 17 + ["retrying"] * 2 + ["queued"]
OWNERS = ["build-bot", "release-bot", "nightly", "ci-runner", "deploy"]


@dataclass(frozen=True)
class Planted:
    """An item the compressor must keep, and a string that proves it was kept."""

    kind: str
    index: int
    evidence: str


def make_items(count: int, seed: int = 7) -> tuple[list[dict], list[Planted], str]:
    """`count` job records, the planted outliers, and a query that names one of them."""
    rng = random.Random(seed + count)
    items = []
    for i in range(count):
        items.append(
            {
                "id": 100000 + i,
                "name": f"job-{i:05d}",
                "type": "pipeline_run",
                "status": rng.choice(STATUSES),
                "region": rng.choice(REGIONS),
                "owner": {"login": rng.choice(OWNERS), "type": "Bot", "site_admin": False},
                "duration_ms": int(rng.lognormvariate(8, 0.35)),
                "cost_usd": f"{rng.uniform(0.01, 2):.2f}",
                "attempt": rng.choice([1, 1, 1, 1, 2]),
                "created_at": f"2024-05-{1 + i * 28 // count:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",  # noqa: E501
                "message": "completed",
                "url": f"https://ci.example.com/api/v2/runs/{100000 + i}",
            }
        )
    picks = rng.sample(range(5, count - 5), 4)
    items[picks[0]]["status"] = "quarantined"
    items[picks[1]]["message"] = "ERROR: artifact upload failed: connection reset by peer (attempt 3/3)"
    items[picks[2]]["duration_ms"] = 9876543
    query_id = items[picks[3]]["id"]
    planted = [
        Planted("rare status", picks[0], '"quarantined"'),
        Planted("error message", picks[1], "artifact upload failed: connection reset by peer"),
        Planted("numeric outlier", picks[2], "9876543"),
        Planted("id in query", picks[3], f"{query_id},"),
    ]
    return items, planted, f"Why did run {query_id} take longer than the others?"


def kept(output: str, items: list[dict], plant: Planted) -> bool:
    """The planted item's row (its id and its evidence on one line) is in the output."""
    item_id = str(items[plant.index]["id"])
    return any(item_id in line and plant.evidence in line for line in output.split("\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print the input JSON")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    console = Console()
    table = Table(title="compress_json on arrays of similar objects")
    columns = (
        "items", "chars before", "tokens before", "tokens after", "reduction", "outliers kept", "ms (median)",
        "lossless only: tokens", "reduction",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for size in (int(s) for s in args.sizes.split(",")):
        items, planted, query = make_items(size)
        text = json.dumps(items, indent=args.indent)
        context = Context(tool_name="fetch", query=query)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = compress_json(text, context)
            times.append((time.perf_counter() - start) * 1000)
        before, after = count_tokens(text), count_tokens(result.text)
        lossless = count_tokens(compress_json(text, context, lossless_only=True).text)
        found = sum(kept(result.text, items, p) for p in planted)
        table.add_row(
            f"{size:,}", f"{len(text):,}", f"{before:,}", f"{after:,}", f"{100 * (1 - after / before):.1f}%",
            f"{found}/{len(planted)}", f"{statistics.median(times):.1f}",
            f"{lossless:,}", f"{100 * (1 - lossless / before):.1f}%",
        )  # fmt: skip
    console.print(table)
    if not counts_are_exact():
        console.print("[yellow]token counts are estimates (tiktoken file missing)[/yellow]")


if __name__ == "__main__":
    main()
