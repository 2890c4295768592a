"""The "Headroom" content view: what a rewritten request looked like before and after.

For a request Headroom rewrote, mitmweb (and mitmproxy's console) pick this view by default: it
lists each rewritten segment with its kind and exact token counts, then the text the model got
and the original, then a unified diff of whatever else changed in the body (the retrieve tool,
cache settings, a moved system prompt value). The original body is kept for rewritten requests only, in
`FlowState.original` (addon/flow_state.py); the segments are found again by parsing
that body with the provider's adapter and reading the same JSON paths in the forwarded body.
The flow's ledger line (addon/ledger/ledger.py) heads the view, then the request's context window
(its provenance: every unit's source and fate, as `headroom trace` shows it). Other flows are
not claimed.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mitmproxy import contentviews, http
from mitmproxy.contentviews.base import TViewLine, TViewResult

from addon.wire import json_splice
from addon.wire.json_splice import Path
from addon.flow_state import FlowState
from addon.provenance.window_summary import summarize
from addon.providers import provider_for

PRIORITY = 2  # above the JSON view's 1: a rewritten request opens in this view


@dataclass(frozen=True)
class SegmentChange:
    """One rewritten string of a request body, with its entry of the rewrite report (if matched)."""

    path: Path
    before: str
    after: str
    entry: dict[str, Any] | None


def value_at(document: Any, path: Path) -> Any:
    """The value at a JSON path, or None where the path leads nowhere."""
    try:
        return json_splice.value_at(document, path)
    except (KeyError, IndexError, TypeError):
        return None


@dataclass(frozen=True)
class BeforeAfter:
    """What a rewrite changed in one body."""

    segments: list[SegmentChange]
    other: list[str]  # a unified diff (pretty-printed JSON) of every other change


def compare(path: str, original: bytes, forwarded: bytes, report: dict) -> BeforeAfter | None:
    """The segments the rewrite changed, paired in order with the report's entries, and the rest
    of the change; None when either body does not parse (the view then leaves the message to
    mitmproxy's own views)."""
    adapter = provider_for(path)
    if adapter is None:
        return None
    try:
        before_doc = json.loads(original)
        segments = adapter.parse(before_doc).segments
        after_doc = json.loads(forwarded)
        rest = json.loads(forwarded)  # the forwarded body with the segments put back
    except ValueError:  # not JSON, not UTF-8, or a shape the adapter does not know
        return None
    changes = []
    for segment in segments:
        after = value_at(after_doc, segment.path)
        if isinstance(after, str) and after != segment.text:
            changes.append((segment.path, segment.text, after))
            parent = value_at(rest, segment.path[:-1])
            parent[segment.path[-1]] = segment.text
    entries = [e for e in report.get("rewritten") or [] if isinstance(e, dict)]
    # The report lists rewritten segments in body order, as parsing finds them.
    paired = len(entries) == len(changes)
    pretty = lambda doc: json.dumps(doc, indent=1, ensure_ascii=False).splitlines()  # noqa: E731
    other = list(difflib.unified_diff(pretty(before_doc), pretty(rest), "original", "forwarded", n=2, lineterm=""))
    return BeforeAfter([SegmentChange(p, b, a, entries[i] if paired else None) for i, (p, b, a) in enumerate(changes)], other)


def _tokens(before: Any, after: Any) -> str:
    if not isinstance(before, int) or not isinstance(after, int):
        return "counting tokens…"
    share = 100 * (before - after) / before if before else 0.0
    return f"{before:,} → {after:,} tokens (−{share:.0f}%)"


def report_line(report: dict) -> str:
    """The rewrite in one line, from `flow.metadata["headroom"]`."""
    if report.get("error"):
        return f"passed through unchanged: {report['error']}"
    rewritten = [e for e in report.get("rewritten") or [] if isinstance(e, dict)]
    if not rewritten:
        return f"{report.get('segments', 0)} segments, nothing compressed"
    kinds = ", ".join(sorted({str(e.get("kind")) for e in rewritten}))
    tokens = _tokens(report.get("tokens_before"), report.get("tokens_after"))
    if any(e.get("tokens_before") is None for e in rewritten):
        tokens = _tokens(None, None)
    return f"{tokens} in {len(rewritten)} of {report.get('segments', len(rewritten))} segments [{kinds}], {report.get('ms', 0.0):.1f} ms"


def _segment_title(n: int, total: int, change: SegmentChange) -> str:
    entry = change.entry
    if entry is None:
        return f"segment {n} of {total} at {'.'.join(map(str, change.path))}"
    source = str(entry.get("source") or "segment").replace("_", " ")
    tool = f" of {entry['tool_name']}" if entry.get("tool_name") else ""
    replayed = " · replayed from an earlier request" if entry.get("memo") else ""
    return f"segment {n} of {total}: {entry.get('kind')} · {source}{tool} · {_tokens(entry.get('tokens_before'), entry.get('tokens_after'))}{replayed}"


def _text(text: str) -> Iterator[TViewLine]:
    for line in text.splitlines() or [""]:
        yield [("text", line)]


def _head(flow: http.HTTPFlow) -> Iterator[TViewLine]:
    report = FlowState(flow).report
    if isinstance(report, dict):
        yield [("header", "headroom: "), ("text", report_line(report))]
        extras = []
        if report.get("retrieve_tool"):
            extras.append(f"tool {report['retrieve_tool']} added (the model can fetch originals back)")
        if report.get("prompt_cache_key"):
            extras.append(f"prompt_cache_key {report['prompt_cache_key']} added")
        if extras:
            yield [("header", "also:     "), ("text", " · ".join(extras))]
    ledger = FlowState(flow).ledger_line
    if isinstance(ledger, str):
        for line in ledger.splitlines():
            yield [("header", "ledger:   "), ("text", line.removeprefix("ledger: "))]


def composition_lines(report: dict) -> Iterator[TViewLine]:
    """The request's context window: totals, tokens by type and tool, repeats, then every unit
    with its source and fate (the same figures as `headroom trace`)."""
    records = report.get("composition")
    if not isinstance(records, list) or not records:
        return
    data = summarize([r for r in records if isinstance(r, dict)], {})
    t = data["tokens"]
    yield []
    yield [("highlight", f"context window: {t['client']:,} tokens from the client → {t['forwarded']:,} forwarded; {t['new']:,} new in this request")]
    for title, key in (("by type:  ", "by_type"), ("by tool:  ", "by_tool"), ("fates:    ", "fates")):
        if data[key]:
            yield [("header", title), ("text", " · ".join(_figure(g) for g in data[key]))]
    for g in data["repeats"][:10]:
        yield [("header", "twice+:   "), ("text", f"{g['source'] or g.get('content')} ×{g['count']} ({g['what']}, {g['tokens']:,} tokens, units {', '.join(map(str, g['positions']))})")]
    for r in data["segments"]:
        fate = str(r.get("fate", ""))
        if r.get("kind"):
            fate += f" ({r['kind']}{', ' + r['mode'] if r.get('mode') else ''})"
        if r.get("reason"):
            fate += f": {r['reason']}"
        tokens = f"{r.get('tokens', 0):,}" + (f" → {r.get('sent', 0):,}" if r.get("sent") != r.get("tokens") else "")
        new = " new" if r.get("new") else ""
        yield [("text", f"#{r.get('pos')} {r.get('role')}/{r.get('type')}{new} · {r.get('source') or r.get('at')} · {tokens} · {fate}")]


def _figure(group: dict) -> str:
    sent = f" → {group['sent']:,}" if group.get("sent", group["tokens"]) != group["tokens"] else ""
    return f"{group['name']} {group['tokens']:,}{sent}"


def _before_after(flow: http.HTTPFlow, diff: BeforeAfter) -> Iterator[TViewLine]:
    yield from _head(flow)
    yield from composition_lines(FlowState(flow).report or {})
    changes = diff.segments
    for n, change in enumerate(changes, 1):
        yield []
        yield [("highlight", _segment_title(n, len(changes), change))]
        yield [("header", f"── after: sent to the model ({len(change.after):,} chars) ──")]
        yield from _text(change.after)
        yield [("header", f"── before: the original ({len(change.before):,} chars) ──")]
        yield from _text(change.before)
    if diff.other:
        yield []
        yield [("highlight", "other changes to the body (JSON, segments above left out)")]
        for line in diff.other:
            yield [("offset" if line.startswith("@@") else "text", line)]


def _rewritten_request(data: bytes, flow: Any, http_message: Any) -> bool:
    return (
        bool(data)
        and isinstance(flow, http.HTTPFlow)
        and http_message is flow.request
        and flow.websocket is None
        and isinstance(FlowState(flow).original, bytes)
    )


class HeadroomView(contentviews.View):
    """Before/after of a rewritten LLM request; the ledger line of any recorded flow."""

    name = "Headroom"

    def __call__(self, data: bytes, *, flow=None, http_message=None, **unknown_metadata) -> TViewResult | None:
        if _rewritten_request(data, flow, http_message):
            state = FlowState(flow)
            report = state.report or {}
            diff = compare(flow.request.path, state.original, data, report)
            if diff is not None:
                return f"Headroom: {report_line(report)}", _before_after(flow, diff)
        if isinstance(flow, http.HTTPFlow) and (FlowState(flow).ledger_line is not None or FlowState(flow).report is not None):
            # Picked by hand for another message of an LLM flow: what Headroom knows, then the body.
            body = data.decode("utf-8", "replace")
            return "Headroom: not rewritten", _chain(_head(flow), composition_lines(FlowState(flow).report or {}), [[]], _text(body))
        return None  # not a flow Headroom saw: mitmproxy falls back to Raw

    def render_priority(self, data: bytes, *, flow=None, http_message=None, **unknown_metadata) -> float:
        return PRIORITY if _rewritten_request(data, flow, http_message) else 0


def _chain(*parts) -> Iterator[TViewLine]:
    for part in parts:
        yield from part


class FlowView:
    """Registers the Headroom content view while the addon is loaded."""

    def __init__(self) -> None:
        self.view = HeadroomView()

    def load(self, loader) -> None:
        contentviews.add(self.view)

    def done(self) -> None:
        if self.view in contentviews.views:
            contentviews.remove(self.view)
