"""Rewrite one decoded request body: find segments, compress the fresh ones, splice them in.

Pure of mitmproxy so it can be tested and benchmarked alone; the addon runs it in a worker
thread and handles fail-open.

Decisions use a fast character estimate of tokens, so they are deterministic and cheap; the
exact (tiktoken) counts that reports and the ledger show are computed by `count_tokens_for`,
which the addon runs after the body has been forwarded, off the request's critical path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

from addon.cache.cache_aligner import AlignRequest, Alignment, CacheAligner, cache_summary
from addon.compression.decision_memo import Decision, DecisionMemo, content_key
from addon.ledger.flow_record import session_key
from addon.wire.json_splice import AddMember, Append, Edit, Replacement, splice, value_at
from addon.retrieval.retrieve_tool import TOOL_NAME, MARKER_ID, add_markers, marker_ids, tool_definition, tool_names, unique_name
from addon.providers import ParsedRequest, ProviderAdapter, Segment
from compressors import Context, Result, compress
from compressors.notes import NOTE_PATTERN

if TYPE_CHECKING:
    from addon.retrieval.original_store import Originals
from compressors.tokens import count_tokens

CompressFn = Callable[[str, Context], Result]
CHARS_PER_TOKEN = 4  # estimate for decisions only; reported counts are exact
# Below this no segment is ever compressed, whatever the policy: it spares the memo a lookup
# for every small string, and no policy change can hide an earlier decision for a larger one.
MIN_SEGMENT_CHARS = 256
SMALL = "small"  # the kind of a decision made without compressing: not worth remembering
MIN_CACHEABLE_TOKENS = 1024  # the smallest prompt prefix providers cache
CONVERSATION = "conversation"  # the memo's record that a conversation carries the retrieve tool
STICKY_FROM_FIRST_TOKENS = 8_000  # an agent's first request this large carries the tool from the start


class NotJson(ValueError):
    """The body is not UTF-8 JSON: it passes through untouched."""


@dataclass(frozen=True)
class Policy:
    """When a segment is worth compressing (token figures estimated as chars / 4)."""

    min_tokens: int = 250  # below this a segment is left whole (at least MIN_SEGMENT_CHARS)
    min_saving: float = 0.10  # the result must save at least this share
    min_saved_tokens: int = 50  # ... and at least this many tokens


@dataclass
class SegmentReport:
    kind: str
    source: str
    tool_name: str | None
    tokens_before: int | None  # None until counted
    tokens_after: int | None
    memo: bool  # replayed from an earlier decision
    key: str = field(default="", repr=False)


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
    retrieve_tool: str | None = None  # the tool added for them
    cache: dict = field(default_factory=dict)  # the cache aligner's report (addon/cache/cache_aligner.py)
    # (report entry, original text, forwarded text) awaiting exact token counts
    uncounted: list[tuple[SegmentReport, str, str]] = field(default_factory=list, repr=False)

    @property
    def counted(self) -> bool:
        return not self.uncounted

    @property
    def tokens_before(self) -> int:
        return sum(r.tokens_before or 0 for r in self.rewritten)

    @property
    def tokens_after(self) -> int:
        return sum(r.tokens_after or 0 for r in self.rewritten)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("uncounted")
        for entry in data["rewritten"]:
            entry.pop("key")
        return {**data, "tokens_before": self.tokens_before, "tokens_after": self.tokens_after}

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


def rewrite_body(
    body: bytes,
    adapter: ProviderAdapter,
    memo: DecisionMemo,
    policy: Policy = Policy(),
    compress_fn: CompressFn = compress,
    exact_counts: bool = True,
    retrieval: RetrievalPath | None = None,
    lossless_fn: CompressFn | None = None,
    cache_key_session: dict[str, str] | None = None,
    alignment: tuple[CacheAligner, AlignRequest] | None = None,
) -> tuple[bytes, RewriteReport]:
    """Return the body to forward and a report. Raises on bodies it cannot handle.

    Only segments the provider has not seen yet (after the model's last turn) are compressed;
    older ones get their memoised decision replayed, or stay untouched when there is none.
    With `exact_counts` False the report's token counts are left for `count_tokens_for`.
    `cache_key_session` (the client's session headers) asks for a stable OpenAI
    `prompt_cache_key` per conversation when the body has none.
    Lossy results need `retrieval`: their originals are stored, their fold notes become
    markers, and the retrieve tool is added. Without it (or when this request cannot carry the
    tool) `lossless_fn` compresses instead, and any lossy result is forwarded as it was.
    `alignment` (an aligner and this request's facts) keeps the cacheable front stable and
    reports what breaks it; its failure leaves the rest of the rewrite as it would have been.
    """
    started = time.perf_counter()
    try:
        text = body.decode("utf-8")
        document = json.loads(text)
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError both
        raise NotJson(str(e)) from e
    parsed = adapter.parse(document)
    if retrieval is not None:
        retrieval = retrieval.for_request(document)
    # The tool sits in `tools`, at the front of the prompt: it must be there from a
    # conversation's first request (when nothing is cached yet) and every request after, or its
    # arrival re-writes the whole cached prefix. Conversations are told apart as the ledger does.
    conversation = "conversation:" + session_key(adapter.name, retrieval.session_headers, document) if retrieval else ""
    # A large agent (Claude Code: ~20k tokens of tools and system prompt) gets the tool from its
    # first request: its ~130 tokens are a small share of that prompt, while adding it later
    # would re-write the whole prefix. A small one gets it at its first fold that pays for that
    # re-write, so a conversation with nothing to fold never pays for the tool (bench_cost).
    big_agent = bool(document.get("tools")) and estimate_tokens(text) >= STICKY_FROM_FIRST_TOKENS
    sticky = retrieval is not None and ((parsed.first_turn and big_agent) or memo.get(conversation) is not None)
    report, replacements, new_decisions = _plan(adapter.name, document, parsed, memo, policy, compress_fn, retrieval, lossless_fn, sticky)
    if not sticky and report.new_markers and not report.replayed_markers and not _pays_for_cache_break(text, parsed, new_decisions):
        # A conversation cached without the tool (it began before Headroom ran): unless the
        # fold saves more than re-writing that prefix costs, compress losslessly instead.
        report, replacements, new_decisions = _plan(adapter.name, document, parsed, memo, policy, compress_fn, None, lossless_fn)
        report.lossless_to_keep_cache = True
    if report.retrieve_tool and memo.get(conversation) is None:
        new_decisions.append((conversation, Decision(CONVERSATION, None, None, None)))
    if cache_key_session is not None and "prompt_cache_key" not in document:
        # OpenAI routes requests with the same key to the same cache: one key per conversation.
        key = "headroom-" + content_key(session_key(adapter.name, cache_key_session, document))[:24]
        replacements.append(AddMember((), "prompt_cache_key", json.dumps(key)))
        report.prompt_cache_key = key
    aligned = _align(alignment, adapter.name, document, report, replacements)
    if aligned is not None:
        try:
            edits = _with_alignment(replacements, aligned, document)
            out = splice(text, edits).encode("utf-8") if edits else body
            replacements = edits
        except Exception as e:  # the aligner's edits do not fit: keep the compression, drop them
            report.errors.append(f"cache aligner: {type(e).__name__}: {e}")
            aligned = None
    if aligned is None:
        out = splice(text, replacements).encode("utf-8") if replacements else body
    # Remember decisions only once the body they went out in exists: a body that fails later
    # goes out as the original, and a remembered decision would then be replayed wrongly.
    for key, decision in new_decisions + (aligned.pending if aligned else []):
        memo.put(key, decision)
    if aligned is not None and alignment is not None:
        try:
            alignment[0].observe(adapter.name, document, aligned, replacements)
        except Exception as e:
            report.errors.append(f"cache aligner: {type(e).__name__}: {e}")
        report.cache = aligned.report.as_dict()
    report.ms = (time.perf_counter() - started) * 1000
    if exact_counts:
        count_tokens_for(report, memo)
    return out, report


def _align(
    alignment: tuple[CacheAligner, AlignRequest] | None, provider: str, document: dict, report: RewriteReport, edits: list[Edit]
) -> Alignment | None:
    """The aligner's edits for this body, or None (no aligner, or it failed: fail open)."""
    if alignment is None:
        return None
    try:
        deltas: dict = {}
        for edit in edits:  # message blocks that compression shortened: breakpoints need real sizes
            if isinstance(edit, Replacement) and len(edit.path) > 4 and edit.path[0] == "messages":
                block = edit.path[:4]
                deltas[block] = deltas.get(block, 0) + len(edit.text) - len(value_at(document, edit.path))
        return alignment[0].align(provider, document, alignment[1], deltas)
    except Exception as e:
        report.errors.append(f"cache aligner: {type(e).__name__}: {e}")
        return None


def _with_alignment(replacements: list[Edit], aligned: Alignment, document: dict) -> list[Edit]:
    """The edits with the aligner's added, its notes appended to strings (after any rewrite of
    the same string, so a replayed rewrite and a replayed note give the same bytes)."""
    out = list(replacements) + aligned.edits
    index = {e.path: i for i, e in enumerate(out) if isinstance(e, Replacement)}
    for path, note in aligned.suffixes:
        if path in index:
            current = out[index[path]]
            out[index[path]] = Replacement(path, current.text + note)  # type: ignore[union-attr]
        elif isinstance(value := value_at(document, path), str):
            index[path] = len(out)
            out.append(Replacement(path, value + note))
    return out


def _plan(
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
    """Decide every segment: the edits to make and the new decisions to remember."""
    report = RewriteReport(provider, segments=len(parsed.segments), streaming=bool(document.get("stream")))
    if retrieval is None and lossless_fn is not None:
        compress_fn = lossless_fn  # no way back to originals for this request: lossless only
    replacements: list[Edit] = []
    new_decisions: list[tuple[str, Decision]] = []
    for segment in parsed.segments:
        report.fresh += segment.fresh
        decision, replayed = _decide(segment, parsed.query, memo, policy, compress_fn, report.errors)
        if decision is not None and decision.text is not None:
            decision = _with_retrieve_path(decision, segment, replayed, retrieval, report)
        if decision is not None and not replayed and decision.kind != SMALL:
            new_decisions.append((content_key(segment.text), decision))
        if decision is None or decision.text is None:
            continue
        replacements.append(Replacement(segment.path, decision.text))
        entry = SegmentReport(
            decision.kind, segment.source, segment.tool_name, decision.tokens_before, decision.tokens_after, replayed, content_key(segment.text)
        )
        report.rewritten.append(entry)
        if decision.tokens_before is None:
            report.uncounted.append((entry, segment.text, decision.text))
    if retrieval is not None and (report.markers or sticky):
        replacements.append(retrieval.tool_edit(document))
        report.retrieve_tool = retrieval.tool_name
    return report, replacements, new_decisions


def _pays_for_cache_break(text: str, parsed: ParsedRequest, new_decisions: list[tuple[str, Decision]]) -> bool:
    """Whether this request's folds save at least as many tokens as the cached prefix holds.

    Adding the tool re-writes the prefix once (Anthropic: ~1.15x input for it, a write instead
    of a read; OpenAI: a full-price read instead of a cached one); every saved token saves at
    least 1x input on this request. So saved >= prefix keeps the request at or below direct.
    A prefix below the providers' minimum cacheable length (1,024 tokens) was not cached.
    """
    fresh = sum(estimate_tokens(s.text) for s in parsed.segments if s.fresh)
    prefix = estimate_tokens(text) - fresh
    if prefix < MIN_CACHEABLE_TOKENS:
        return True
    saved = sum(
        estimate_tokens(s.text) - estimate_tokens(d.text or s.text)
        for s in parsed.segments
        for key, d in new_decisions
        if s.fresh and key == content_key(s.text) and d.text is not None
    )
    return saved >= prefix


@dataclass
class RetrievalPath:
    """A working way back to the originals for this request: the store, who is asking, and
    the tool (name and definition literal) that the request will carry."""

    originals: Originals
    owner: str
    provider: str
    tool_name: str = TOOL_NAME
    streaming: bool = False  # whether retrieve calls can be answered inside a streamed response
    session_headers: dict[str, str] = field(default_factory=dict)  # the client's session ids, if any

    def for_request(self, document: dict) -> RetrievalPath | None:
        """This path bound to one request, or None when the request cannot carry the tool
        (the client forbade tool calls, forces another tool, or streams where we cannot answer)."""
        if _tool_choice_blocks_retrieval(document.get("tool_choice")):
            return None
        if document.get("stream") and not self.streaming:
            return None
        return replace(self, tool_name=unique_name(tool_names(self.provider, document.get("tools"))))

    def tool_edit(self, document: dict) -> Edit:
        """Append the tool to `tools`, or add `tools` when the request has none."""
        literal = tool_definition(self.provider, self.tool_name)
        if isinstance(document.get("tools"), list):
            return Append(("tools",), literal)
        return AddMember((), "tools", f"[{literal}]")


def _tool_choice_blocks_retrieval(choice: object) -> bool:
    """Whether the client's tool_choice rules out a retrieve call: "none", or one forced tool."""
    if isinstance(choice, str):  # OpenAI: "auto", "required" (any tool, ours included), "none"
        return choice == "none"
    if isinstance(choice, dict):  # Anthropic {"type": "none"|"tool"}, OpenAI {"type": "function", …}
        return choice.get("type") in ("none", "tool", "function") or "function" in choice
    return False


def _with_retrieve_path(
    decision: Decision, segment: Segment, replayed: bool, retrieval: RetrievalPath | None, report: RewriteReport
) -> Decision | None:
    """Make a lossy decision safe to forward: markers need a retrieve path and a stored original."""
    ids = marker_ids(decision.text or "")
    unmarked = NOTE_PATTERN.search(MARKER_ID.sub("", decision.text or "")) is not None
    if not ids and not unmarked:
        return decision  # lossless: nothing to retrieve
    if retrieval is None:
        return None  # never a marker without a way back: forward the original this time
    try:
        if unmarked:  # a fresh lossy result: keep the original, name it in every note
            original_id = retrieval.originals.store(segment.text, retrieval.owner, decision.kind)
            decision = replace(decision, text=add_markers(decision.text or "", original_id))
        else:  # a replayed one: keep its original alive, and fetchable by whoever re-sent it
            if retrieval.originals.store(segment.text, retrieval.owner, decision.kind) not in ids:
                return None  # the marker names an id this store cannot serve (another salt)
    except Exception as e:  # store unavailable: fail open for this segment
        report.errors.append(f"store: {type(e).__name__}: {e}")
        return None
    report.markers += 1
    if unmarked:
        report.new_markers += 1
    else:
        report.replayed_markers += 1
    return decision


def count_tokens_for(report: RewriteReport, memo: DecisionMemo) -> RewriteReport:
    """Fill in exact token counts and remember them with the decision, so replays need none."""
    for entry, original, forwarded in report.uncounted:
        entry.tokens_before = count_tokens(original)
        entry.tokens_after = count_tokens(forwarded)
        known = memo.get(entry.key)
        if known is not None and known.text == forwarded:
            memo.put(entry.key, replace(known, tokens_before=entry.tokens_before, tokens_after=entry.tokens_after))
    report.uncounted.clear()
    return report


def estimate_tokens(text: str) -> int:
    """A deterministic, instant estimate used for decisions only."""
    return len(text) // CHARS_PER_TOKEN


def _decide(
    segment: Segment, query: str, memo: DecisionMemo, policy: Policy, compress_fn: CompressFn, errors: list[str]
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
        return decide(segment.text, context, policy, compress_fn), False
    except Exception as e:  # fail open for this segment; the others still go through
        errors.append(f"{type(e).__name__}: {e}")
        return None, False


def decide(text: str, context: Context, policy: Policy, compress_fn: CompressFn) -> Decision:
    """What to forward for a fresh segment: the compressed text, or None when not worth it.

    The one decision rule, shared by the proxy and the benchmarks.
    """
    if len(text) < MIN_SEGMENT_CHARS or estimate_tokens(text) < policy.min_tokens:
        return Decision(SMALL, None, None, None)
    result = compress_fn(text, context)
    before, after = estimate_tokens(text), estimate_tokens(result.text)
    saved = before - after
    worth = saved >= policy.min_saved_tokens and saved >= policy.min_saving * before and _sendable(result.text)
    return Decision(result.kind, result.text if worth else None, None, None)


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
