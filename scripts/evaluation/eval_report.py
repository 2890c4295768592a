"""The eval's results as a table (agreement per compressor kind and per tool) and a JSON report,
and the dry run's list of what would be sent."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from statistics import mean
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rich.console import Console
from rich.table import Table

from scripts.evaluation.eval_run import PairResult, SideResult
from scripts.evaluation.recorded_flows import Skipped


@dataclass(frozen=True)
class Group:
    """Agreement over the compared pairs of one group (all, a compressor kind, a tool)."""

    name: str
    n: int
    agree: float  # shares, 0-1
    retrieve: float
    same_stop: float
    same_tools: float
    arguments_equal: float
    argument_share: float | None  # mean over pairs with tool calls
    text_similarity: float | None  # mean over pairs with text
    cost_usd: float


def groups(pairs: list[PairResult]) -> list[Group]:
    """`all`, then one row per compressor kind and per tool (a pair counts in each of its own)."""
    done = [p for p in pairs if p.comparison is not None]
    rows = [_group("all", done)]
    for kind in sorted({k for p in done for k in p.recorded.kinds}):
        rows.append(_group(f"kind: {kind}", [p for p in done if kind in p.recorded.kinds]))
    for tool in sorted({t for p in done for t in p.recorded.tools}):
        rows.append(_group(f"tool: {tool}", [p for p in done if tool in p.recorded.tools]))
    return rows


def _group(name: str, pairs: list[PairResult]) -> Group:
    comparisons = [p.comparison for p in pairs if p.comparison is not None]

    def share(test) -> float:
        return sum(1 for c in comparisons if test(c)) / len(comparisons) if comparisons else 0.0

    def mean_of(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return mean(present) if present else None

    return Group(
        name=name,
        n=len(comparisons),
        agree=share(lambda c: c.verdict == "agree"),
        retrieve=share(lambda c: c.retrieved),
        same_stop=share(lambda c: c.same_stop),
        same_tools=share(lambda c: c.same_tools),
        arguments_equal=share(lambda c: c.arguments_equal),
        argument_share=mean_of([c.argument_share for c in comparisons]),
        text_similarity=mean_of([c.text_similarity for c in comparisons]),
        cost_usd=sum(p.cost_usd for p in pairs),
    )


def render_table(pairs: list[PairResult], summary: dict, console: Console) -> None:
    """The agreement table, and a line on cost, coverage and method."""
    table = Table(title="headroom eval: do answers stay the same?", title_justify="left")
    for header in ("group", "n", "agree", "retrieve", "same stop", "same tool", "args exact", "args fields", "text sim", "cost"):
        table.add_column(header, justify="left" if header == "group" else "right")
    for g in groups(pairs):
        table.add_row(
            g.name, str(g.n), _pct(g.agree, g.n), _pct(g.retrieve, g.n), _pct(g.same_stop, g.n), _pct(g.same_tools, g.n),
            _pct(g.arguments_equal, g.n), _num(g.argument_share), _num(g.text_similarity), f"${g.cost_usd:.4f}",
        )  # fmt: skip
    console.print(table)
    console.print(summary_line(summary))
    for pair in pairs:
        if pair.state in ("failed", "cannot_send", "no_price"):
            console.print(f"  {pair.state}: {redacted(pair.recorded.url)} ({pair.recorded.flow_id[:8]}): {pair.note}")


def summary_line(summary: dict) -> str:
    """Cost against budget, pairs compared and left out, prices and similarity method."""
    states = ", ".join(f"{n} {state}" for state, n in sorted(summary["states"].items()) if state != "done")
    budget = f" of the ${summary['budget_usd']:.2f} budget" if summary["budget_usd"] is not None else ""
    return (
        f"eval cost ${summary['spent_usd']:.4f}{budget} ({summary['pricing']}); "
        f"{summary['states'].get('done', 0)} of {summary['pairs']} rewritten requests compared"
        + (f" ({states})" if states else "")
        + f"; {summary['skipped']} flows not rewritten or not re-sendable; text similarity: {summary['similarity']}"
    )


def summarize(pairs: list[PairResult], skipped: list[Skipped], meta: dict) -> dict:
    """The figures the summary line and the JSON report share."""
    return {
        **meta,
        "pairs": len(pairs),
        "states": dict(Counter(p.state for p in pairs)),
        "spent_usd": round(sum(p.cost_usd for p in pairs), 6),
        "skipped": len(skipped),
        "skip_reasons": dict(Counter(s.reason for s in skipped)),
    }


def report_json(pairs: list[PairResult], skipped: list[Skipped], summary: dict) -> dict:
    """Everything: the summary, the groups, each pair with both answers, and the flows left out."""
    return {
        **summary,
        "groups": [asdict(g) for g in groups(pairs)],
        "results": [_pair_json(p) for p in pairs],
        "skipped_flows": [asdict(s) for s in skipped],
    }


def _pair_json(pair: PairResult) -> dict:
    r = pair.recorded
    return {
        "flow_id": r.flow_id,
        "provider": r.provider,
        "url": redacted(r.url),
        "url_guessed": r.url_guessed,
        "kinds": list(r.kinds),
        "tools": list(r.tools),
        "streamed": r.streamed,
        "state": pair.state,
        "note": pair.note,
        "estimate_usd": pair.estimate_usd,
        "cost_usd": pair.cost_usd,
        "comparison": pair.comparison.as_dict() if pair.comparison else None,
        "original": _side_json(pair.original),
        "forwarded": _side_json(pair.forwarded),
    }


def _side_json(side: SideResult | None) -> dict | None:
    if side is None:
        return None
    return {
        "url": redacted(side.request.url),
        "model": side.request.model,
        "tokens": side.tokens,
        "output_cap": side.request.output_cap,
        "temperature_zero": side.request.temperature_zero,
        "estimate_usd": side.estimate_usd,
        "status": side.status,
        "error": side.error,
        "seconds": round(side.seconds, 3),
        "usage": asdict(side.usage) if side.usage else None,
        "cost_usd": side.cost_usd,
        "answer": side.answer.as_dict() if side.answer else None,
    }


def render_dry_run(pairs: list[PairResult], budget_usd: float | None, console: Console) -> None:
    """What would be sent: per request its provider, model and tokens of each side, and the cost."""
    table = Table(title="headroom eval --dry-run: nothing is sent", title_justify="left")
    for header in ("#", "provider", "model", "url", "original tokens", "forwarded tokens", "est. cost", "note"):
        table.add_column(header, justify="right" if header in ("#", "original tokens", "forwarded tokens", "est. cost") else "left")
    total, fits, stopped = 0.0, 0, False
    for i, pair in enumerate(pairs, 1):
        cost = pair.estimate_usd if pair.state == "planned" else None
        if cost is not None:
            total += cost
            # The run stops at the first pair that does not fit, as eval_run does.
            stopped = stopped or (budget_usd is not None and total > budget_usd)
            fits += 0 if stopped else 1
        model = pair.original.request.model if pair.original else None
        table.add_row(
            str(i), pair.recorded.provider, model or "?", redacted(pair.recorded.url),
            _tokens(pair.original), _tokens(pair.forwarded), f"${cost:.4f}" if cost is not None else "?",
            pair.note if pair.state != "planned" else "",
        )  # fmt: skip
    console.print(table)
    line = f"estimated cost at most ${total:.4f} for {sum(1 for p in pairs if p.state == 'planned')} pairs"
    if budget_usd is not None:
        line += f"; a ${budget_usd:.2f} budget sends the first {fits}"
    console.print(line)


def redacted(url: str) -> str:
    """The URL without an API key in its query (Gemini's `?key=`): reports get shared."""
    parts = urlsplit(url)
    query = [(k, "REDACTED" if k == "key" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _tokens(side: SideResult | None) -> str:
    return f"{side.tokens:,}" if side else "–"


def _pct(value: float, n: int) -> str:
    return f"{100 * value:.0f}%" if n else "–"


def _num(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "–"
