"""Rewrite one decoded request body: find segments, compress the fresh ones, splice them in.

Pure of mitmproxy so it can be tested and benchmarked alone; the addon runs it in a worker
thread and handles fail-open.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from addon.decision_memo import Decision, DecisionMemo, content_key
from addon.json_splice import Replacement, splice
from addon.providers import ProviderAdapter, Segment
from compressors import Context, Result, compress
from compressors.tokens import count_tokens

CompressFn = Callable[[str, Context], Result]


@dataclass(frozen=True)
class Policy:
    """When a segment is worth compressing."""

    min_tokens: int = 250  # below this a segment is left whole
    min_saving: float = 0.10  # the result must save at least this share of tokens
    min_saved_tokens: int = 50  # ... and at least this many


@dataclass(frozen=True)
class SegmentReport:
    kind: str
    source: str
    tool_name: str | None
    tokens_before: int
    tokens_after: int
    memo: bool  # replayed from an earlier decision


@dataclass
class RewriteReport:
    """What a rewrite did to one body, for the flow comment and the ledger."""

    provider: str
    segments: int = 0
    fresh: int = 0
    rewritten: list[SegmentReport] = field(default_factory=list)
    ms: float = 0.0

    @property
    def tokens_before(self) -> int:
        return sum(r.tokens_before for r in self.rewritten)

    @property
    def tokens_after(self) -> int:
        return sum(r.tokens_after for r in self.rewritten)

    def as_dict(self) -> dict:
        return {**asdict(self), "tokens_before": self.tokens_before, "tokens_after": self.tokens_after}

    def summary(self) -> str:
        """One line for a person: what changed and what it saved."""
        if not self.rewritten:
            return f"headroom: {self.provider}, {self.segments} segments, nothing to compress ({self.ms:.1f} ms)"
        before, after = self.tokens_before, self.tokens_after
        share = 100 * (before - after) / before if before else 0.0
        kinds = ", ".join(sorted({r.kind for r in self.rewritten}))
        return (
            f"headroom: {before:,} → {after:,} tokens (−{share:.0f}%) in {len(self.rewritten)} of "
            f"{self.segments} segments [{kinds}], {self.ms:.1f} ms"
        )


def rewrite_body(
    body: bytes,
    adapter: ProviderAdapter,
    memo: DecisionMemo,
    policy: Policy = Policy(),
    compress_fn: CompressFn = compress,
) -> tuple[bytes, RewriteReport]:
    """Return the body to forward and a report. Raises on bodies it cannot handle.

    Only segments the provider has not seen yet (after the model's last turn) are compressed;
    older ones get their memoised decision replayed, or stay untouched when there is none.
    """
    started = time.perf_counter()
    text = body.decode("utf-8")
    parsed = adapter.parse(json.loads(text))
    report = RewriteReport(adapter.name, segments=len(parsed.segments))
    replacements: list[Replacement] = []
    for segment in parsed.segments:
        report.fresh += segment.fresh
        decision, replayed = _decide(segment, parsed.query, memo, policy, compress_fn)
        if decision is None or decision.text is None:
            continue
        replacements.append(Replacement(segment.path, decision.text))
        report.rewritten.append(
            SegmentReport(decision.kind, segment.source, segment.tool_name, decision.tokens_before, decision.tokens_after, replayed)
        )
    out = splice(text, replacements).encode("utf-8") if replacements else body
    report.ms = (time.perf_counter() - started) * 1000
    return out, report


def _decide(
    segment: Segment, query: str, memo: DecisionMemo, policy: Policy, compress_fn: CompressFn
) -> tuple[Decision | None, bool]:
    # A cheap character bound first: most segments are small and need no tokenizer.
    if len(segment.text) < policy.min_tokens * 2:
        return None, False
    key = content_key(segment.text)
    if (known := memo.get(key)) is not None:
        return known, True
    if not segment.fresh:
        return None, False  # the provider saw it as it is; changing it now would break its cache
    before = count_tokens(segment.text)
    if before < policy.min_tokens:
        return None, False
    path = _path_argument(segment)
    context = Context(segment.tool_name, segment.tool_args, path, query[-4000:], segment.source)
    result = compress_fn(segment.text, context)
    after = count_tokens(result.text) if result.text != segment.text else before
    saved = before - after
    worth = saved >= policy.min_saved_tokens and saved >= policy.min_saving * before
    decision = Decision(result.kind, result.text if worth else None, before, after if worth else before)
    memo.put(key, decision)
    return decision, False


def _path_argument(segment: Segment) -> str | None:
    for name in ("file_path", "path", "filename", "file"):
        value = segment.tool_args.get(name)
        if isinstance(value, str):
            return value
    return None
