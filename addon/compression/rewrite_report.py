"""What a rewrite did to one body: per segment and in all, for the flow comment, the Headroom
view and the ledger; exact token counts are filled in after the body went out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from addon.cache.cache_aligner import cache_summary
from addon.compression.decision_memo import DecisionMemo
from compressors.tokens import count_tokens

log = logging.getLogger(__name__)


@dataclass
class SegmentReport:
    kind: str
    source: str
    tool_name: str | None
    tokens_before: int | None  # None until counted
    tokens_after: int | None
    memo: bool  # replayed from an earlier decision
    key: str = field(default="", repr=False)
    path: tuple = ()  # where the string is in the body


@dataclass(frozen=True)
class SegmentOutcome:
    """What became of one segment, rewritten or not, and why: the provenance record's fate."""

    path: tuple
    fate: str  # compressed | replayed | whole
    reason: str = ""  # why it went whole (see segment_decisions.whole_reason)
    kind: str = ""  # the compressor that decided
    ids: tuple[str, ...] = ()  # retrieve ids its forwarded text carries


@dataclass
class RewriteReport:
    """What a rewrite did to one body, for the flow comment and the ledger."""

    provider: str
    segments: int = 0
    fresh: int = 0
    rewritten: list[SegmentReport] = field(default_factory=list)
    ms: float = 0.0
    errors: list[str] = field(default_factory=list)  # segments whose compressor raised
    markers: int = 0  # segments forwarded with retrieve markers
    new_markers: int = 0  # of which folded on this request
    replayed_markers: int = 0  # of which replayed: the conversation already carries the tool
    lossless_to_keep_cache: bool = False  # lossy folds were declined to keep the cached prefix
    prompt_cache_key: str | None = None  # the OpenAI cache key added to this request
    streaming: bool = False  # the client asked for a streamed response
    store_down: bool = False  # the store of originals failed during this rewrite
    retrieve_tool: str | None = None  # the tool added for them
    cache: dict = field(default_factory=dict)  # the cache aligner's report (addon/cache/cache_aligner.py)
    images: dict | None = None  # this request's images before and after (addon/media/image_decisions.ImageFigures)
    outcomes: list[SegmentOutcome] = field(default_factory=list, repr=False)  # every segment's fate
    # every unit of the prompt, its source and fate (addon/provenance/composition.py); None until composed
    composition: list[dict] | None = None
    # (report entry, original text, forwarded text) awaiting exact token counts
    uncounted: list[tuple[SegmentReport, str, str]] = field(default_factory=list, repr=False)
    # builds `composition` once counts are in, off the critical path (holds the parsed body until then)
    composer: Callable[[RewriteReport], list[dict]] | None = field(default=None, repr=False)

    @property
    def counted(self) -> bool:
        """Exact counts and the composition are in: the ledger may write its row."""
        return not self.uncounted and self.composer is None

    @property
    def tokens_before(self) -> int:
        return sum(r.tokens_before or 0 for r in self.rewritten)

    @property
    def tokens_after(self) -> int:
        return sum(r.tokens_after or 0 for r in self.rewritten)

    def as_dict(self) -> dict:
        composer, self.composer = self.composer, None  # asdict would copy the parsed body it holds
        try:
            data = asdict(self)
        finally:
            self.composer = composer
        for name in ("uncounted", "composer", "outcomes"):  # outcomes live on in `composition`
            data.pop(name)
        for entry in data["rewritten"]:
            entry.pop("key")
            entry["path"] = list(entry["path"])
        return {**data, "tokens_before": self.tokens_before, "tokens_after": self.tokens_after, "composing": composer is not None}

    def summary(self) -> str:
        """One line for a person: what changed and what it saved, and what the cache aligner saw."""
        cache = cache_summary(self.cache)
        return f"{self._compression_summary()} · {cache}" if cache else self._compression_summary()

    def _compression_summary(self) -> str:
        if not self.rewritten:
            return f"headroom: {self.provider}, {self.segments} segments, nothing to compress ({self.ms:.1f} ms)"
        kinds = ", ".join(sorted({r.kind for r in self.rewritten}))
        where = f"in {len(self.rewritten)} of {self.segments} segments [{kinds}], {self.ms:.1f} ms"
        if not self.counted:
            return f"headroom: compressed {where} (counting tokens…)"
        before, after = self.tokens_before, self.tokens_after
        share = 100 * (before - after) / before if before else 0.0
        return f"headroom: {before:,} → {after:,} tokens (−{share:.0f}%) {where}"


def count_tokens_for(report: RewriteReport, memo: DecisionMemo) -> RewriteReport:
    """Fill in exact token counts and remember them with the decision, so replays need none;
    then the composition, which needs them."""
    for entry, original, forwarded in report.uncounted:
        entry.tokens_before = count_tokens(original)
        entry.tokens_after = count_tokens(forwarded)
        known = memo.get(entry.key)
        if known is not None and known.text == forwarded:
            memo.put(entry.key, replace(known, tokens_before=entry.tokens_before, tokens_after=entry.tokens_after))
    report.uncounted.clear()
    if report.composer is not None:
        composer, report.composer = report.composer, None
        try:
            report.composition = composer(report)
        except Exception as e:  # provenance is for reading later: never a reason to lose the row
            log.warning("headroom: the composition of a %s request was not recorded (%s: %s)", report.provider, type(e).__name__, e)
    return report


def summary_of(data: dict) -> str:
    """`RewriteReport.summary` of a report that crossed a process boundary as its dict."""
    entries = [e for e in data.get("rewritten") or [] if isinstance(e, dict)]
    report = RewriteReport(
        str(data.get("provider", "")), segments=int(data.get("segments") or 0), ms=float(data.get("ms") or 0.0), cache=data.get("cache") or {},
        rewritten=[SegmentReport(str(e.get("kind")), str(e.get("source")), e.get("tool_name"), e.get("tokens_before"), e.get("tokens_after"), bool(e.get("memo"))) for e in entries],
    )  # fmt: skip
    return report.summary()
