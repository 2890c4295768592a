"""What to forward for each segment: a memoised decision replayed, a fresh one made, or the
string left as it is; lossy results only with a way back to their originals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from addon.compression.decision_memo import Decision, DecisionMemo, content_key
from addon.compression.repeated_outputs import EarlierOutputs, delta_decision, delta_key, repeat_decision, repeat_key
from addon.compression.rewrite_report import RewriteReport, SegmentOutcome, SegmentReport
from addon.providers import ParsedRequest, Segment
from addon.retrieval.retrieval_path import RetrievalPath
from addon.retrieval.retrieve_tool import MARKER_ID, add_markers, marker_ids
from addon.wire.json_splice import Edit, Replacement
from compressors import Context, Result
from compressors.notes import NOTE_PATTERN

CompressFn = Callable[[str, Context], Result]
CHARS_PER_TOKEN = 4  # estimate for decisions only; reported counts are exact
# Below this no segment is ever compressed, whatever the policy: it spares the memo a lookup
# for every small string, and no policy change can hide an earlier decision for a larger one.
MIN_SEGMENT_CHARS = 256
SMALL = "small"  # the kind of a decision made without compressing: not worth remembering

# Why a segment went whole (SegmentOutcome.reason), for `headroom trace`.
SENT_WHOLE = "sent whole earlier in this conversation"
ERROR = "its compressor failed"
NO_WAY_BACK = "lossy, and no way back to the original on this request"


@dataclass(frozen=True)
class Policy:
    """When a segment is worth compressing (token figures estimated as chars / 4)."""

    min_tokens: int = 250  # below this a segment is left whole (at least MIN_SEGMENT_CHARS)
    min_saving: float = 0.10  # the result must save at least this share
    min_saved_tokens: int = 50  # ... and at least this many tokens
    # A lossless result (unpadded line numbers, repeats counted) goes when it saves at least
    # this many; a segment under min_tokens gets only the lossless passes.
    min_lossless_saved_tokens: int = 10


def plan(
    provider: str,
    document: dict,
    parsed: ParsedRequest,
    memo: DecisionMemo,
    policy: Policy,
    compress_fn: CompressFn,
    retrieval: RetrievalPath | None,
    lossless_fn: CompressFn | None,
    sticky: bool = False,
) -> tuple[RewriteReport, list[Edit], list[tuple[str, Decision]]]:
    """Decide every segment: the edits to make and the new decisions to remember (and, with a
    retrieve path, the tool to carry)."""
    streaming = retrieval.request_streams if retrieval is not None else bool(document.get("stream"))
    report = RewriteReport(provider, segments=len(parsed.segments), streaming=streaming)
    if retrieval is None and lossless_fn is not None:
        compress_fn = lossless_fn  # no way back to originals for this request: lossless only
    replacements: list[Edit] = []
    new_decisions: list[tuple[str, Decision]] = []
    earlier = EarlierOutputs({s.call_id for s in parsed.segments if s.call_id})
    # Texts the provider has seen whole in this conversation: a fresh copy of one goes whole too,
    # or its decision (keyed by content) would rewrite the earlier copy on the next request.
    seen_whole: set[str] = set()
    for segment in parsed.segments:
        report.fresh += segment.fresh
        text_key = content_key(segment.text)
        key = text_key  # the memo key of this segment's decision
        decision, replayed, key = earlier_output_decision(segment, text_key, earlier, memo)
        if decision is not None:
            decision = with_retrieve_path(decision, segment, replayed, retrieval, report)  # a delta needs one
        why = ""
        if decision is None and segment.fresh and text_key in seen_whole:
            why = SENT_WHOLE
        elif decision is None:
            key = text_key
            errors = len(report.errors)
            decision, replayed = decide_segment(segment, parsed.query, memo, policy, compress_fn, report.errors, lossless_fn)
            why = ERROR if len(report.errors) > errors else ""
            if decision is not None and decision.text is not None:
                safe = with_retrieve_path(decision, segment, replayed, retrieval, report)
                if safe is None and report.store_down and lossless_fn is not None and not replayed:
                    # the store is down: a new fold cannot keep its original, so this one goes
                    # lossless (and is remembered so, like any decision)
                    safe, replayed = decide_segment(segment, parsed.query, memo, policy, lossless_fn, report.errors)
                why = NO_WAY_BACK if safe is None else ""
                decision = safe
        earlier.add(segment, text_key, forwarded_whole=decision is None or decision.text is None)
        if not segment.fresh and (decision is None or decision.text is None):
            seen_whole.add(text_key)
        if decision is not None and not replayed and decision.kind != SMALL:
            new_decisions.append((key, decision))
        if decision is None or decision.text is None:
            reason = why or whole_reason(segment, decision, replayed)
            report.outcomes.append(SegmentOutcome(segment.path, "whole", reason, decision.kind if decision else ""))
            continue
        fate = "replayed" if replayed else "compressed"
        report.outcomes.append(SegmentOutcome(segment.path, fate, "", decision.kind, tuple(marker_ids(decision.text))))
        replacements.append(Replacement(segment.path, decision.text))
        entry = SegmentReport(
            decision.kind, segment.source, segment.tool_name, decision.tokens_before, decision.tokens_after, replayed, key, segment.path
        )
        report.rewritten.append(entry)
        if decision.tokens_before is None:
            report.uncounted.append((entry, segment.text, decision.text))
    if retrieval is not None and (report.markers or sticky):
        replacements.append(retrieval.tool_edit(document))
        report.retrieve_tool = retrieval.tool_name
    return report, replacements, new_decisions


def earlier_output_decision(segment: Segment, key: str, earlier: EarlierOutputs, memo: DecisionMemo) -> tuple[Decision | None, bool, str]:
    """A reference to an identical earlier output, else a diff against a similar one: the
    decision, whether it was replayed, and its memo key."""
    decision, replayed = repeat_decision(segment, key, earlier, memo)
    if decision is not None:
        return decision, replayed, repeat_key(segment, key)
    decision, replayed = delta_decision(segment, key, earlier, memo)
    return decision, replayed, delta_key(segment, key)


def with_retrieve_path(
    decision: Decision, segment: Segment, replayed: bool, retrieval: RetrievalPath | None, report: RewriteReport
) -> Decision | None:
    """Make a lossy decision safe to forward: markers need a retrieve path and a stored original.
    Notes and markers the original text holds itself (a file about Headroom) are not folds."""
    ids = marker_ids(decision.text or "")
    notes = Counter(NOTE_PATTERN.findall(MARKER_ID.sub("", decision.text or "")))
    if ids:  # the original is scanned only when the decision holds notes or markers at all
        quoted = set(marker_ids(segment.text))
        ids = [i for i in ids if i not in quoted]
    if notes:
        notes -= Counter(NOTE_PATTERN.findall(segment.text))
    unmarked = bool(notes)
    if not ids and not unmarked:
        return decision  # lossless: nothing to retrieve
    if retrieval is None:
        return None  # never a marker without a way back: forward the original this time
    try:
        if unmarked:  # a fresh lossy result: keep the original, name it in every note
            original_id = retrieval.originals.store(segment.text, retrieval.owner, decision.kind)
            decision = replace(decision, text=add_markers(decision.text or "", original_id, decision.folds))
        else:  # a replayed one: keep its original alive, and fetchable by whoever re-sent it
            if retrieval.originals.store(segment.text, retrieval.owner, decision.kind) not in ids:
                return None  # the marker names an id this store cannot serve (another salt)
    except Exception as e:
        report.errors.append(f"store: {type(e).__name__}: {e}")
        report.store_down = True
        if unmarked:
            return None  # a new fold without its original: not sent (the caller tries lossless)
        # Bytes already sent go again, or the provider's cached prefix breaks; the marker
        # answers again once the store is back (its original was stored when first sent).
    report.markers += 1
    if unmarked:
        report.new_markers += 1
    else:
        report.replayed_markers += 1
    return decision


def whole_reason(segment: Segment, decision: Decision | None, replayed: bool) -> str:
    """Why a segment that went out whole did (its decision, or the lack of one, says)."""
    if len(segment.text) < MIN_SEGMENT_CHARS or (decision is not None and decision.kind == SMALL):
        return "small"
    if decision is None:
        return "seen by the provider before any decision"  # re-sent, never decided (older than Headroom's view)
    if replayed:
        return "whole when first sent"
    return _WHOLE_BY_KIND.get(decision.kind, "compressing did not pay")


# Kinds that say why on their own (compressors/router.py, addon/compression/compress_budget.py).
_WHOLE_BY_KIND = {
    "excluded": "its tool is excluded (headroom_exclude_tools)",
    "whole": "left whole by rule (a tool the model needs whole, or a range it chose)",
    "over_budget": "compression ran over the time budget",
}


def estimate_tokens(text: str) -> int:
    """A deterministic, instant estimate used for decisions only."""
    return len(text) // CHARS_PER_TOKEN


def decide_segment(
    segment: Segment,
    query: str,
    memo: DecisionMemo,
    policy: Policy,
    compress_fn: CompressFn,
    errors: list[str],
    lossless_fn: CompressFn | None = None,
) -> tuple[Decision | None, bool]:
    if len(segment.text) < MIN_SEGMENT_CHARS:
        return None, False
    # The memo comes before any policy check: once a form was forwarded, it is forwarded again
    # even if the policy has changed since.
    if (known := memo.get(content_key(segment.text))) is not None:
        return known, True
    if not segment.fresh:
        return None, False  # the provider saw it as it is; changing it now would break its cache
    context = Context(segment.tool_name, segment.tool_args, _path_argument(segment), query[-4000:], segment.source)
    try:
        return decide(segment.text, context, policy, compress_fn, lossless_fn), False
    except Exception as e:  # fail open for this segment; the others still go through
        errors.append(f"{type(e).__name__}: {e}")
        return None, False


def decide(text: str, context: Context, policy: Policy, compress_fn: CompressFn, lossless_fn: CompressFn | None = None) -> Decision:
    """What to forward for a fresh segment: the compressed text, or None when not worth it.
    A segment under the policy's size, or one whose compressed form is not worth sending, gets
    what `lossless_fn` (when given) can do.

    The one decision rule, shared by the proxy and the benchmarks.
    """
    if len(text) < MIN_SEGMENT_CHARS:
        return Decision(SMALL, None, None, None)
    if estimate_tokens(text) < policy.min_tokens:
        return _lossless(text, context, policy, lossless_fn) or Decision(SMALL, None, None, None)
    result = compress_fn(text, context)
    if _worth(text, result, policy):
        return Decision(result.kind, result.text, None, None, result.folds)
    if not result.lossless and (fallback := _lossless(text, context, policy, lossless_fn)) is not None:
        return fallback  # the lossy form saved too little; unpadding and counted repeats still go
    return Decision(result.kind, None, None, None)


def _worth(text: str, result: Result, policy: Policy) -> bool:
    """A lossless result (numbers unpadded, repeats counted) loses nothing: any saving worth a
    rewrite will do. A lossy one must also save a share of the text, and more tokens."""
    saved = estimate_tokens(text) - estimate_tokens(result.text)
    if result.lossless:
        return saved >= policy.min_lossless_saved_tokens and _sendable(result.text)
    return saved >= policy.min_saved_tokens and saved >= policy.min_saving * estimate_tokens(text) and _sendable(result.text)


def _lossless(text: str, context: Context, policy: Policy, lossless_fn: CompressFn | None) -> Decision | None:
    """What the lossless passes make of a text (a short Read's padded line numbers, an Edit
    confirmation's), when that is worth sending."""
    if lossless_fn is None:
        return None
    result = lossless_fn(text, context)
    if not result.lossless or not _worth(text, result, policy):
        return None
    return Decision(result.kind, result.text, None, None)


def _sendable(text: str) -> bool:
    """Whether text can travel as UTF-8 (a lone surrogate from a cut emoji cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _path_argument(segment: Segment) -> str | None:
    for name in ("file_path", "path", "filename", "file"):
        value = segment.tool_args.get(name)
        if isinstance(value, str):
            return value
    return None
