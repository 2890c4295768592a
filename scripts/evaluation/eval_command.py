"""`headroom eval FLOWS`: the command line (scripts/cli.py adds the verb, this module does the work)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from scripts.evaluation.resend_requests import MAX_OUTPUT_TOKENS

HELP = "re-send rewritten requests of a flow file, original and compressed, and compare the answers"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The `eval` verb's arguments."""
    p.add_argument("flows", type=Path, help="a flow file recorded with Headroom on (mitmdump -w, or mitmweb's save)")
    p.add_argument("--budget", type=float, help="the most this eval may spend, in USD (required unless --dry-run)")
    p.add_argument("--dry-run", action="store_true", help="print what would be sent and its estimated cost; send nothing")
    p.add_argument("--limit", type=int, help="evaluate at most this many rewritten requests (in file order)")
    p.add_argument("--model", help="send both sides to this model instead of the recorded one")
    p.add_argument("--json", type=Path, dest="json_out", help="write the JSON report here (default: FLOWS.eval.json; a dry run writes its plan only when asked)")
    p.add_argument("--max-tokens", type=int, default=MAX_OUTPUT_TOKENS, help=f"cap on each answer's output tokens (default {MAX_OUTPUT_TOKENS})")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight at once (default 4)")
    p.add_argument("--pricing", help="price with this pricing table file (default: the bundled list prices)")
    p.add_argument("--base-url", help="send every request to this origin instead of the recorded one (a gateway, or a local test server)")
    p.add_argument("--ca-bundle", help="verify the provider's TLS certificate with this CA file (default: certifi's roots)")
    p.add_argument("--trust-env", action="store_true", help="honour HTTPS_PROXY etc. (off: the eval talks to the provider directly)")
    return p


def run_eval(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    import asyncio

    from rich.console import Console

    from addon.ledger.pricing import PricingError, load_pricing
    from scripts.evaluation.eval_report import render_dry_run, render_table, report_json, summarize
    from scripts.evaluation.eval_run import plan
    from scripts.evaluation.recorded_flows import FlowFileError, recorded_requests
    from scripts.evaluation.resend_requests import ResendSettings

    _check(args)
    try:
        table = load_pricing(args.pricing)
        recorded, skipped = recorded_requests(args.flows, args.limit)
    except (PricingError, FlowFileError) as e:
        sys.exit(f"headroom eval: {e}")
    settings = ResendSettings(args.max_tokens, args.model, args.base_url, dict(os.environ))
    pairs = plan(recorded, settings, table)
    console = Console(width=max(shutil.get_terminal_size().columns, 140))
    if not pairs:
        reasons = ", ".join(sorted({s.reason for s in skipped})) or "no Headroom flows"
        console.print(f"headroom eval: no rewritten requests in {args.flows} ({len(skipped)} flows left out: {reasons})")
    if args.dry_run:
        render_dry_run(pairs, args.budget, console)
        if args.json_out:  # the plan, for scripts: each pair's sides, tokens and estimates
            meta = {"flows": str(args.flows), "pricing": table.title, "similarity": None, "budget_usd": args.budget, "dry_run": True}
            args.json_out.write_text(json.dumps(report_json(pairs, skipped, summarize(pairs, skipped, meta)), indent=2, ensure_ascii=False) + "\n")
        return 0
    similarity = _similarity()
    asyncio.run(_send_all(pairs, args, table, similarity))
    meta = {"flows": str(args.flows), "pricing": table.title, "similarity": similarity.note, "budget_usd": args.budget,
            "max_output_tokens": args.max_tokens, "model": args.model}  # fmt: skip
    summary = summarize(pairs, skipped, meta)
    render_table(pairs, summary, console)
    out = args.json_out or args.flows.with_name(args.flows.name + ".eval.json")
    out.write_text(json.dumps(report_json(pairs, skipped, summary), indent=2, ensure_ascii=False) + "\n")
    console.print(f"report: {out}")
    return 0


def _check(args: argparse.Namespace) -> None:
    if args.budget is None and not args.dry_run:
        sys.exit("headroom eval: give --budget USD, the most this eval may spend (it re-sends requests to the provider, on your key), or --dry-run to see what it would send and cost")
    if args.budget is not None and args.budget <= 0:
        sys.exit("headroom eval: --budget must be more than 0 USD")
    if args.limit is not None and args.limit < 1:
        sys.exit("headroom eval: --limit must be at least 1")
    if args.max_tokens < 1 or args.concurrency < 1:
        sys.exit("headroom eval: --max-tokens and --concurrency must be at least 1")


def _similarity():
    from scripts.evaluation.text_similarity import load_similarity

    return load_similarity()


async def _send_all(pairs: list, args: argparse.Namespace, table, similarity) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from scripts.evaluation.eval_cost import Budget
    from scripts.evaluation.eval_run import run_pairs
    from scripts.evaluation.sending import HttpxSender

    budget = Budget(args.budget)
    sender = HttpxSender(verify=args.ca_bundle or True, trust_env=args.trust_env)
    columns = (TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TextColumn("${task.fields[spent]:.4f}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("eval", total=len(pairs), spent=0.0)

        def done(pair) -> None:
            progress.update(task, advance=1, spent=budget.spent)

        try:
            await run_pairs(pairs, sender, budget, table, similarity, args.concurrency, done)
        finally:
            await sender.aclose()
