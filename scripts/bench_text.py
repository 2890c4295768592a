"""Benchmark of the plain-text compressor on the prose-like tool outputs of ../shared/corpus.

Cases: outputs of 1,000+ chars with needles and 30%+ prose lines, from the HELD-OUT trajectories
only by default (`scripts.train_text_model.case_split`, the split the training script uses: by
trajectory, and by session for the Claude Code corpus, `--corpus
../shared/corpus/claude_code/tool_outputs.jsonl`), so no trajectory or session the head was
trained on is scored. Arms at each keep ratio (50%, 33%): the model
(compressors.text_model), the statistical fallback (compressors.text_fallback), and random word
dropping to the same ratio (seeded). Needle retention is per needle (`needle in output`); the
"tokens kept" column is the share of o200k tokens actually kept, fold notes included, so the arms
are compared at the same ratio. Throughput is the model path alone (encoder and head) in encoder
tokens per second; latency is the router's "text" compressor end to end, which sends inputs
above the model's budget to the fallback. The fallback's own speed is timed on one ~20,000-token
input (the cases joined), the size it must handle within ~50 ms.
Usage: scripts/bench_text.py [--corpus PATH] [--min-share 0.3] [--split heldout|dev|train|all]
       [--weights DIR] [--no-speed]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from compressors import Context  # noqa: E402
from compressors import text_fallback as tf  # noqa: E402
from compressors import text_model as tm  # noqa: E402
from compressors.tokens import count_tokens  # noqa: E402
from scripts.train_text_model import CORPUS, case_split, model_view, prose_share  # noqa: E402


def load_cases(path: Path, min_share: float, split: str = "heldout") -> list[tuple[str, Context, list[str]]]:
    """(body, context, needles) of prose-like corpus outputs with needles (envelopes removed),
    from one split of the trajectories ("all" for every split)."""
    import json

    return load_cases_from((json.loads(line) for line in path.read_text().splitlines()), min_share, split)


def load_cases_from(records, min_share: float, split: str) -> list[tuple[str, Context, list[str]]]:
    """The bench cases among corpus records (dicts) of one split."""
    cases = []
    for case in records:
        if split != "all" and case_split(case) != split:
            continue
        text = model_view(case)
        if len(text) >= 1000 and case["needles"] and prose_share(text) >= min_share:
            args = case["tool_input"] if isinstance(case.get("tool_input"), dict) else {"command": case["command"]}
            context = Context(tool_name=case["tool"], tool_args=args, query=case["query"])
            cases.append((text, context, case["needles"]))
    return cases


def random_drop(text: str, keep_ratio: float, seed: int) -> str:
    """Drop whitespace-separated words at random, keeping about `keep_ratio` of them."""
    rng = random.Random(seed)
    return " ".join(w for w in text.split(" ") if rng.random() < keep_ratio)


def measure(cases, arm: Callable[[str, Context, float, int], str], ratio: float) -> tuple[float, float]:
    """(needle retention %, token share kept %) of one arm at one ratio."""
    kept = total = before = after = 0
    for i, (text, context, needles) in enumerate(cases):
        out = arm(text, context, ratio, i)
        kept += sum(n in out for n in needles)
        total += len(needles)
        before += count_tokens(text)
        after += count_tokens(out)
    return 100 * kept / max(total, 1), 100 * after / max(before, 1)


def fallback_speed(cases, tokens: int = 20_000, runs: int = 5) -> tuple[int, float, float]:
    """(o200k tokens, first-call ms, median ms of `runs` more) of the fallback at the proxy's
    ratio on one input of about `tokens` tokens: the cases' texts joined, repeated if needed."""
    texts = [text for text, _, _ in cases]
    parts: list[str] = []
    size = 0
    while texts and size < tokens:
        part = texts[len(parts) % len(texts)]
        parts.append(part)
        size += count_tokens(part)
    text = "\n\n".join(parts)
    text = text[: int(len(text) * min(1.0, tokens / max(size, 1)))]
    context = cases[0][1] if cases else Context()
    tf.term_weight.cache_clear()  # the first call pays for an empty cache, as a fresh proxy does
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        tf.compress_text_fallback(text, context, tm.DEFAULT_KEEP_RATIO)
        times.append(1000 * (time.perf_counter() - started))
    return count_tokens(text), times[0], statistics.median(times[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--min-share", type=float, default=0.3)
    parser.add_argument("--split", choices=("heldout", "dev", "train", "all"), default="heldout")
    parser.add_argument("--weights", default=None, help="model folder (default: the committed head)")
    parser.add_argument("--no-speed", action="store_true", help="skip the throughput and latency table")
    args = parser.parse_args(argv)
    console = Console()
    cases = load_cases(Path(args.corpus), args.min_share, args.split)
    model = tm.load_model(args.weights)
    arms: dict[str, Callable[[str, Context, float, int], str]] = {
        "fallback (term cover + rules)": lambda t, c, r, i: tf.compress_text_fallback(t, c, r).text,
        "random word drop": lambda t, c, r, i: random_drop(t, r, i),
    }
    if model is not None:
        arms = {"model (MiniLM + head, term cover)": lambda t, c, r, i: tm.compress_text_model(t, c, model, r).text, **arms}
    split = {"heldout": "held-out trajectories (never trained on)", "dev": "dev trajectories (for tuning)", "train": "TRAINING trajectories",
             "all": "all trajectories (train and held-out)"}[args.split]
    table = Table(title=f"Needle retention on {len(cases)} prose-like corpus outputs "
                  f"({sum(len(c[2]) for c in cases)} needles), split: {split}")
    for column in ("arm", "keep 50%: needles", "tokens kept", "keep 33%: needles", "tokens kept"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for name, arm in arms.items():
        half, third = measure(cases, arm, 0.5), measure(cases, arm, 0.33)
        table.add_row(name, f"{half[0]:.1f}%", f"{half[1]:.0f}%", f"{third[0]:.1f}%", f"{third[1]:.0f}%")
    console.print(table)
    if args.no_speed:
        return 0
    n, first, median = fallback_speed(cases)
    console.print(f"Fallback on one {n:,}-token input: {median:.1f} ms (median of 5), {first:.1f} ms on the first call")
    if model is None:
        console.print("no model weights: run scripts/train_text_model.py")
        return 0
    tokens = seconds = 0.0
    latencies = []
    for text, context, _ in cases:
        n = tm.model_token_count(model, text)
        started = time.perf_counter()
        model.keep_probabilities(text)
        seconds += time.perf_counter() - started
        tokens += n
        started = time.perf_counter()
        tm.compress_text(text, context)
        latencies.append(1000 * (time.perf_counter() - started))
    latencies.sort()
    speed = Table(title="Speed on this machine (torch threads: 2)")
    for column in ("model throughput", "router 'text' p50 ms", "p99 ms", "max ms", "model budget"):
        speed.add_column(column, justify="right")
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    speed.add_row(f"{tokens / seconds:,.0f} tokens/s", f"{statistics.median(latencies):.1f}", f"{p99:.1f}",
                  f"{latencies[-1]:.1f}", f"{tm.MAX_MODEL_TOKENS:,} tokens")
    console.print(speed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
