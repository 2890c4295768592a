"""Rewrite one decoded request body: a small pipeline of named steps, in the order they run.

Pure of mitmproxy so it can be tested and benchmarked alone; the Compression addon runs it in a
worker thread and handles fail-open. The steps, each a function of the one `Rewrite` record:

1. `parse_body`: UTF-8 JSON, the provider's segments, the retrieve path bound to this request;
2. `decide_retrieve_tool`: whether this conversation carries the retrieve tool already;
3. `plan_segments`: every segment's decision (replayed from the memo, or made now if fresh);
4. `keep_cache_unless_fold_pays`: a conversation cached without the tool takes it only with a
   fold that saves more than re-writing its prefix costs, else it compresses losslessly;
4b. `reduce_images`: fresh images made smaller (addon/media/), remembered like segments;
5. `remember_conversation`: a conversation that carries the tool keeps it;
6. `add_prompt_cache_key`: a stable OpenAI cache key per conversation where asked;
7. `align_cache`: the cache aligner's edits and notes (it fails open on its own);
8. `splice_body`: the new body, bytes outside the rewritten strings unchanged;
9. `commit_decisions`: decisions remembered only once the body they went out in exists;
10. `observe_alignment`: the aligner records what was forwarded;
11. `leave_composition`: what the provenance record needs, to be built once counts are in;
Then exact counts: now (`exact_counts`), or later off the critical path (`count_tokens_for`).

Decisions use a fast character estimate of tokens, so they are deterministic and cheap; the
exact (tiktoken) counts that reports and the ledger show are computed by `count_tokens_for`,
which the addon runs after the body has been forwarded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from addon.cache.cache_aligner import AlignRequest, Alignment, CacheAligner
from addon.cache.conversation import session_key
from addon.compression.decision_memo import Decision, DecisionMemo, content_key
from addon.compression.rewrite_report import RewriteReport, SegmentOutcome, SegmentReport, count_tokens_for
from addon.compression.segment_decisions import CompressFn, Policy, estimate_tokens, plan
from addon.media.image_decisions import IMAGE, ImageFigures, ImageSettings, plan_images
from addon.media.video_decisions import VIDEO, VideoForm
from addon.provenance.composition import Composer
from addon.providers import ParsedRequest, Provider, UnknownShape
from addon.retrieval.retrieval_path import RetrievalPath
from addon.retrieval.retrieve_tool import RETRIEVE_ID
from addon.wire.json_splice import AddMember, Edit, Replacement, splice, value_at
from compressors import compress

MIN_CACHEABLE_TOKENS = 1024  # the smallest prompt prefix providers cache
CONVERSATION = "conversation"  # the memo's record that a conversation carries the retrieve tool
STICKY_FROM_FIRST_TOKENS = 8_000  # an agent's first request this large carries the tool from the start


class NotJson(ValueError):
    """The body is not UTF-8 JSON: it passes through untouched."""


@dataclass
class Rewrite:
    """One body on its way through the steps: what came in, what was decided, what goes out."""

    body: bytes
    provider: Provider
    memo: DecisionMemo
    policy: Policy
    compress_fn: CompressFn
    lossless_fn: CompressFn | None
    retrieval: RetrievalPath | None
    cache_key_session: dict[str, str] | None
    alignment: tuple[CacheAligner, AlignRequest] | None
    composer: Composer | None = None
    images: ImageSettings | None = None  # None: images pass as they are
    image_figures: ImageFigures | None = None  # what this request's images cost, before and after
    started: float = field(default_factory=time.perf_counter)
    text: str = ""
    document: dict = field(default_factory=dict)
    parsed: ParsedRequest | None = None
    conversation: str = ""  # the memo key saying this conversation carries the retrieve tool
    sticky: bool = False  # it carries the tool whatever this request folds
    report: RewriteReport | None = None
    edits: list[Edit] = field(default_factory=list)
    decisions: list[tuple[str, Decision]] = field(default_factory=list)  # to remember once the body exists
    aligned: Alignment | None = None
    out: bytes | None = None


def parse_body(w: Rewrite) -> None:
    try:
        w.text = w.body.decode("utf-8")
        w.document = json.loads(w.text)
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError both
        raise NotJson(str(e)) from e
    except RecursionError as e:
        raise UnknownShape("JSON nested too deep to walk") from e
    w.parsed = w.provider.parse(w.document)  # raises UnknownShape for a body it does not know
    if w.retrieval is not None:
        w.retrieval = w.retrieval.for_request(w.document)


def decide_retrieve_tool(w: Rewrite) -> None:
    """The tool sits in `tools`, at the front of the prompt: once a conversation carries it, every
    request after does, or its arrival re-writes the whole cached prefix. A large agent (Claude
    Code: ~20k tokens of tools and system prompt) gets it from its first request, where its ~130
    tokens are a small share; a small one at its first fold that pays for the re-write, so a
    conversation with nothing to fold never pays for the tool (bench_cost)."""
    if w.retrieval is None:
        return
    w.conversation = "conversation:" + session_key(w.provider, w.retrieval.session_headers, w.document)
    big_agent = bool(w.provider.tools_of(w.document)[1]) and estimate_tokens(w.text) >= STICKY_FROM_FIRST_TOKENS
    w.sticky = (w.parsed.first_turn and big_agent) or w.memo.get(w.conversation) is not None


def plan_segments(w: Rewrite) -> None:
    w.report, w.edits, w.decisions = plan(
        w.provider.name, w.document, w.parsed, w.memo, w.policy, w.compress_fn, w.retrieval, w.lossless_fn, w.sticky
    )


def keep_cache_unless_fold_pays(w: Rewrite) -> None:
    """A conversation cached without the tool (it began before Headroom ran): unless the fold
    saves more than re-writing that prefix costs, compress losslessly instead."""
    report = w.report
    if w.sticky or not report.new_markers or report.replayed_markers or _pays_for_cache_break(w.text, w.parsed, w.decisions):
        return
    w.report, w.edits, w.decisions = plan(w.provider.name, w.document, w.parsed, w.memo, w.policy, w.compress_fn, None, w.lossless_fn)
    w.report.lossless_to_keep_cache = True


def reduce_images(w: Rewrite) -> None:
    """Fresh images made smaller; below the size the provider keeps only where this request can
    carry the retrieve tool (the original stored, its id in the note beside the image). After
    the cache check, whose re-plan would drop these edits."""
    if w.images is None or not w.images.enabled:
        return
    lossy_ok = w.retrieval is not None and not w.report.lossless_to_keep_cache
    planned = plan_images(w.provider, w.document, w.memo, w.images, w.retrieval, lossy_ok)
    w.edits += planned.edits
    w.decisions += planned.decisions
    w.image_figures = figures = planned.figures
    report = w.report
    report.errors += figures.errors
    report.store_down = report.store_down or planned.store_down
    for path, form, replayed in figures.reductions:
        kind = VIDEO if isinstance(form, VideoForm) else IMAGE
        report.rewritten.append(SegmentReport(kind, kind, None, form.tokens_before, form.tokens_after, replayed, "", path))
        ids = tuple(RETRIEVE_ID.findall(form.note))
        report.outcomes.append(SegmentOutcome(path, "replayed" if replayed else "compressed", "", kind, ids))
    if figures.images or figures.videos:
        report.images = figures.as_dict()
    report.markers += figures.markers
    report.new_markers += figures.new_markers
    report.replayed_markers += figures.markers - figures.new_markers
    if figures.markers and report.retrieve_tool is None and w.retrieval is not None:
        w.edits.append(w.retrieval.tool_edit(w.document))
        report.retrieve_tool = w.retrieval.tool_name


def remember_conversation(w: Rewrite) -> None:
    if w.report.retrieve_tool and w.memo.get(w.conversation) is None:
        w.decisions.append((w.conversation, Decision(CONVERSATION, None, None, None)))


def add_prompt_cache_key(w: Rewrite) -> None:
    """OpenAI routes requests with the same key to the same cache: one key per conversation."""
    if w.cache_key_session is None or "prompt_cache_key" in w.document:
        return
    key = "headroom-" + content_key(session_key(w.provider, w.cache_key_session, w.document))[:24]
    w.edits.append(AddMember((), "prompt_cache_key", json.dumps(key)))
    w.report.prompt_cache_key = key


def align_cache(w: Rewrite) -> None:
    """The aligner's edits for this body; if it fails, or its edits do not fit, the rest of the
    rewrite goes out as it would have without it."""
    if w.alignment is None:
        return
    aligner, request = w.alignment
    try:
        deltas: dict = {}
        for edit in w.edits:  # message blocks that compression shortened: breakpoints need real sizes
            if isinstance(edit, Replacement) and len(edit.path) > 4 and edit.path[0] == "messages":
                block = edit.path[:4]
                deltas[block] = deltas.get(block, 0) + len(edit.text) - len(value_at(w.document, edit.path))
        aligned = aligner.align(w.provider, w.document, request, deltas)
        edits = _with_alignment(w.edits, aligned, w.document)
        out = splice(w.text, edits).encode("utf-8") if edits else w.body  # the edits must fit the body
    except Exception as e:
        w.report.errors.append(f"cache aligner: {type(e).__name__}: {e}")
        return
    w.aligned, w.edits, w.out = aligned, edits, out


def splice_body(w: Rewrite) -> None:
    if w.out is None:  # not already spliced with the aligner's edits
        w.out = splice(w.text, w.edits).encode("utf-8") if w.edits else w.body


def commit_decisions(w: Rewrite) -> None:
    """A body that fails later goes out as the original, and a decision remembered before it
    existed would then be replayed wrongly: so only now."""
    for key, decision in w.decisions + (w.aligned.pending if w.aligned else []):
        w.memo.put(key, decision)


def observe_alignment(w: Rewrite) -> None:
    if w.aligned is None or w.alignment is None:
        return
    try:
        w.alignment[0].observe(w.provider, w.document, w.aligned, w.edits)
    except Exception as e:
        w.report.errors.append(f"cache aligner: {type(e).__name__}: {e}")
    w.report.cache = w.aligned.report.as_dict()


def leave_composition(w: Rewrite) -> None:
    """The composition (addon/provenance/composition.py) is built with the exact counts, off the
    critical path: the report holds what it needs until then."""
    if w.composer is None:
        return
    composer, provider, document = w.composer, w.provider, w.document
    w.report.composer = lambda report: [r.as_dict() for r in composer.compose(provider, document, report)]


STEPS: tuple[Callable[[Rewrite], None], ...] = (
    parse_body,
    decide_retrieve_tool,
    plan_segments,
    keep_cache_unless_fold_pays,
    reduce_images,
    remember_conversation,
    add_prompt_cache_key,
    align_cache,
    splice_body,
    commit_decisions,
    observe_alignment,
    leave_composition,
)


def rewrite_body(
    body: bytes,
    adapter: Provider,
    memo: DecisionMemo,
    policy: Policy = Policy(),
    compress_fn: CompressFn = compress,
    exact_counts: bool = True,
    retrieval: RetrievalPath | None = None,
    lossless_fn: CompressFn | None = None,
    cache_key_session: dict[str, str] | None = None,
    alignment: tuple[CacheAligner, AlignRequest] | None = None,
    composer: Composer | None = None,
    images: ImageSettings | None = None,
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
    reports what breaks it. `composer` has the report carry the body's composition (provenance).
    `images` makes fresh images smaller (addon/media/image_decisions.py); None leaves them.
    """
    w = Rewrite(body, adapter, memo, policy, compress_fn, lossless_fn, retrieval, cache_key_session, alignment, composer, images)
    for step in STEPS:
        step(w)
    w.report.ms = (time.perf_counter() - w.started) * 1000
    if exact_counts:
        count_tokens_for(w.report, memo)
    assert w.out is not None
    return w.out, w.report


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
