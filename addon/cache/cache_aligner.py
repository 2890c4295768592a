"""Keep a conversation's cacheable front stable, and say what breaks it.

For every request the aligner
- finds dynamic-looking content (dates, times, ids, git status) in the front of the prompt (tools,
  system, instructions) and reports it with its position;
- compares the prompt with the previous one of the same thread and reports where it stopped
  extending it (the client's body, and what was forwarded), and why;
- where allowed (API-key traffic, the provider switched on), moves changed values out of the
  front: the system prompt is forwarded exactly as first sent in this thread, and the lines that
  changed since are told to the model in a note at the end of the request. The note stays
  attached to that message in every later request (memoised with the thread, across restarts),
  so the forwarded bytes keep extending each other. Only changes that `dynamic_fields` explains
  are moved; a real edit of the system prompt starts a new thread;
- for Anthropic API-key traffic, places `cache_control` breakpoints where the client placed
  none, and picks the cache TTL per thread from the gaps between its turns (`cache_ttl`).

A thread is a conversation (the ledger's session key) with one model, one tool set and one
system prompt skeleton (its text without dynamic values), so a sub-agent sharing the session's
id is a thread of its own. Pure of mitmproxy; thread-safe.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from addon.cache.cache_rules import CacheRules, load_cache_rules
from addon.cache.cache_ttl import MIN_GAPS, TTL_1H, TTL_5M, TtlChoice, choose_ttl
from addon.compression.decision_memo import Decision, DecisionMemo, content_key
from addon.cache.dynamic_fields import changes, explained, scan, skeleton
from addon.cache.conversation import session_key
from addon.cache.forwarded_body import instruction_only, with_edits
from addon.cache.front_notes import add_note, message_digest, note_text
from addon.wire.json_splice import Edit, Path, Replacement
from addon.cache.prompt_units import (
    PrefixBreak,
    PromptUnit,
    estimate,
    prefix_break,
    section_of,
    sections,
    total_tokens,
)

if TYPE_CHECKING:
    from addon.providers.provider import Provider

THREADS = 2048  # threads remembered in memory (previous prompt, turn gaps)
GAP_HISTORY = 50
CLIENT_GAP_HISTORY = 200
MAX_REPORTED_FIELDS = 8
TTL_MODES = ("auto", "5m", "1h", "client")


@dataclass(frozen=True)
class AlignOptions:
    """What the aligner may change (detection and reports are always on)."""

    move: frozenset[str] = frozenset()  # providers whose changed front values are moved to the end
    breakpoints: bool = True  # Anthropic: place breakpoints where the client placed none
    ttl: str = "auto"  # auto: per thread from its gaps; 5m/1h: always; client: never change


@dataclass(frozen=True)
class AlignRequest:
    """One request's facts the aligner needs besides its body."""

    session_headers: dict[str, str]
    api_key: bool  # API-key traffic; subscription/OAuth prompts pass untouched
    now: float
    client: str = ""  # the client program, for TTL evidence from its other sessions


@dataclass
class CacheReport:
    """What the aligner saw and did, for the flow, the mitmweb view and the ledger."""

    thread: str = ""
    client: str = ""
    dynamic: list[dict] = field(default_factory=list)  # {kind, at, tokens}
    client_break: dict | None = None  # where the client's body stopped extending its previous one
    prefix_break: dict | None = None  # the same for what was forwarded (what the provider sees)
    moved: list[str] = field(default_factory=list)  # kinds of the changes kept out of the front
    breakpoints: int = 0
    upgraded: int = 0
    ttl: str | None = None
    ttl_reason: str = ""

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], 0, "")}


def cache_summary(cache: dict) -> str:
    """One line for a person from a report's dict: what kept the cache, what broke it."""
    parts = []
    if cache.get("moved"):
        parts.append(f"front kept, changed {'/'.join(cache['moved'])} moved to the end")
    if cache.get("breakpoints"):
        parts.append(f"{cache['breakpoints']} breakpoint(s) {cache.get('ttl', '5m')}")
    if cache.get("upgraded"):
        parts.append(f"{cache['upgraded']} breakpoint(s) raised to 1h")
    if brk := cache.get("prefix_break"):
        parts.append(f"prefix broke at {brk['at']} ≈{brk['tokens']:,} of {brk['of']:,} tokens ({brk['cause']})")
    elif cache.get("client_break"):
        parts.append("prefix kept")
    if cache.get("dynamic") and not cache.get("moved"):
        kinds = sorted({d["kind"] for d in cache["dynamic"]})
        parts.append(f"dynamic {'/'.join(kinds)} in the front from ≈{cache['dynamic'][0]['tokens']:,} tokens")
    return "cache: " + "; ".join(parts) if parts else ""


@dataclass
class Alignment:
    edits: list[Edit]
    suffixes: list[tuple[Path, str]]  # notes appended to string values (merged with rewrites)
    report: CacheReport
    thread: str = ""
    units: list[PromptUnit] = field(default_factory=list, repr=False)  # of the client's body
    # thread states to remember once the body they describe has been built (see rewrite_body)
    pending: list[tuple[str, Decision]] = field(default_factory=list)


@dataclass
class _Thread:
    """In-memory facts of one thread."""

    client_units: list[PromptUnit] = field(default_factory=list)
    forwarded_units: list[PromptUnit] = field(default_factory=list)
    last_seen: float | None = None
    gaps: deque = field(default_factory=lambda: deque(maxlen=GAP_HISTORY))
    turns: deque = field(default_factory=lambda: deque(maxlen=GAP_HISTORY))  # (cached, new) ≈ tokens
    ttl: str = TTL_5M  # the TTL this thread's breakpoints get now
    notes_seen: set = field(default_factory=set)  # notes whose message was in the previous request


class CacheAligner:
    """Per-thread memory of prompts, fronts and gaps; see the module docstring."""

    def __init__(self, memo: DecisionMemo, options: AlignOptions = AlignOptions(), rules: CacheRules | None = None) -> None:
        self.memo = memo
        self.options = options
        self.rules = rules or load_cache_rules()
        self._threads: OrderedDict[str, _Thread] = OrderedDict()
        self._client_gaps: dict[str, deque] = {}
        self._lock = threading.Lock()

    def configure(self, options: AlignOptions, rules: CacheRules) -> None:
        """New options or rules (at start, or changed at run time); threads and gaps stay."""
        self.options, self.rules = options, rules

    # ---- evidence for TTL choice ---------------------------------------------------------

    def add_client_gaps(self, client: str, gaps: list[float]) -> None:
        """Gaps between turns seen for a client before (the ledger's history)."""
        with self._lock:
            self._client_gaps.setdefault(client, deque(maxlen=CLIENT_GAP_HISTORY)).extend(gaps)

    def client_gaps(self) -> dict[str, list[float]]:
        with self._lock:
            return {client: list(gaps) for client, gaps in self._client_gaps.items()}

    def ttl_choice(self, thread: _Thread, client: str, units: list[PromptUnit]) -> TtlChoice:
        with self._lock:  # observe() appends to these from another worker
            gaps, turns = list(thread.gaps), list(thread.turns)
            if len(gaps) < MIN_GAPS:  # too little of this thread yet: its client's other threads (this one included)
                gaps = list(self._client_gaps.get(client, ()))
        if turns:
            cached = sum(c for c, _ in turns) / len(turns)
            new = sum(n for _, n in turns) / len(turns)
        else:
            new = units[-1].tokens if units else 0
            cached = total_tokens(units) - new
        return choose_ttl(gaps, cached, new)

    # ---- per request -----------------------------------------------------------------------

    def align(self, provider: Provider, body: dict, request: AlignRequest, deltas: dict[Path, int] | None = None) -> Alignment:
        """Edits and notes for one request body (parsed), and the report so far. `deltas`: how
        many characters compression takes off each message block (by block path)."""
        units = provider.prompt_units(body)
        key = self.thread_key(provider, body, request, units)
        report = CacheReport(thread=key[:16], client=request.client)
        report.dynamic = _dynamic_fields(units)
        with self._lock:
            thread = self._threads.pop(key, None) or _Thread()
            self._threads[key] = thread
            while len(self._threads) > THREADS:
                self._threads.popitem(last=False)
            if thread.last_seen is not None and request.now >= thread.last_seen:
                gap = request.now - thread.last_seen
                thread.gaps.append(gap)
                self._client_gaps.setdefault(request.client, deque(maxlen=CLIENT_GAP_HISTORY)).append(gap)
            thread.last_seen = request.now
            previous = thread.client_units
            thread.client_units = units
        # A Responses request chained by previous_response_id carries only its new items: it
        # cannot be compared with the last one, and earlier items are not in it to carry notes.
        chained = bool(body.get("previous_response_id"))
        if previous and not chained and (found := prefix_break(previous, units)) is not None:
            report.client_break = _describe(found)
        alignment = Alignment([], [], report, key, units)
        if request.api_key and provider.name in self.options.move:
            unchanged_before = 0 if chained or not previous else _first_changed_message(previous, units)
            self._move(provider, body, alignment, thread, unchanged_before, chained)
        if request.api_key and provider.has_breakpoints:
            self._breakpoints(provider, body, thread, request.client, units, alignment.edits, report, deltas)
        return alignment

    def observe(self, provider: Provider, body: dict, alignment: Alignment, edits: list[Edit]) -> None:
        """Record what was forwarded (the client's `body` with `edits`) and report where it
        broke the previous forwarded prompt. Only the sections that `edits` touched are
        rebuilt (from the parsed body, not by parsing what was sent) and rendered again."""
        report, thread_key = alignment.report, alignment.thread
        units = alignment.units
        prompt_edits = [e for e in edits if not instruction_only(e)]
        if prompt_edits:
            dirty = {section_of(e.path) for e in prompt_edits}
            reuse = {k: v for k, v in sections(units).items() if k not in dirty}
            units = provider.prompt_units(with_edits(body, prompt_edits), reuse)
        with self._lock:
            thread = self._threads.get(thread_key)
            if thread is None:
                return
            previous, thread.forwarded_units = thread.forwarded_units, units
        if previous:
            found = prefix_break(previous, units)
            report.prefix_break = _describe(found) if found else None
            shared = found.tokens if found else total_tokens(previous)
            with self._lock:
                thread.turns.append((shared, max(0, total_tokens(units) - shared)))

    def thread_key(self, provider: Provider, body: dict, request: AlignRequest, units: list[PromptUnit]) -> str:
        """The thread's name, stable across restarts. The tool set enters as the tool units'
        texts, which `prompt_units` has already rendered for this request."""
        front = [text for _, text in provider.front_strings(body)]
        tools = [u.text for u in units if u.label.startswith("tools")]
        parts = [session_key(provider, request.session_headers, body), str(body.get("model")), *tools, *map(skeleton, front)]
        return content_key("\x00".join(parts))

    # ---- moving changed values ------------------------------------------------------------

    def _move(self, provider: Provider, body: dict, alignment: Alignment, thread: _Thread, unchanged_before: int, chained: bool = False) -> None:
        """`unchanged_before`: messages before this index are as in the thread's previous
        request, so a note seen there on such a message needs no digest check."""
        front = provider.front_strings(body)
        if not front:
            return
        edits, suffixes, report = alignment.edits, alignment.suffixes, alignment.report
        memo_key = "align:" + alignment.thread
        known = self.memo.get(memo_key)
        state = json.loads(known.text) if known is not None and known.text else None
        now_digest = _digest(front)
        if state is None or [tuple(p) for p, _ in state["front"]] != [p for p, _ in front]:
            thread.notes_seen = set()
            alignment.pending.append(_state(memo_key, {"front": [[list(p), t] for p, t in front], "told": now_digest, "notes": []}))
            return
        frozen = [(tuple(p), t) for p, t in state["front"]]
        found = [c for (_, old), (_, new) in zip(frozen, front) for c in changes(old, new)]
        if found and not explained(found):
            # A real edit with the same skeleton (rare): forward it as sent and start again from
            # it; the prefix breaks at the system prompt, so earlier notes need not be kept.
            alignment.pending.append(_state(memo_key, {"front": [[list(p), t] for p, t in front], "told": now_digest, "notes": []}))
            thread.notes_seen = set()
            return
        # Replay every note this thread attached to an earlier message, where that message is unchanged.
        latest_told, seen = False, set()
        for k, (path, digest, note) in enumerate(state["notes"] if not chained else []):
            target = provider.note_target(body, tuple(path))
            same = k in thread.notes_seen and path[1] < unchanged_before
            if target is not None and (same or message_digest(body, tuple(path)) == digest):
                add_note(target, note, edits, suffixes)
                seen.add(k)
                latest_told = k == len(state["notes"]) - 1
        thread.notes_seen = seen
        if state["notes"] and not latest_told and not chained:
            state["told"] = None  # the message carrying the latest note is gone (compaction, a new branch): tell again
        keep_front = [Replacement(path, old) for (path, old), (_, new) in zip(frozen, front) if old != new]
        if now_digest != state["told"]:
            anchor = provider.last_message_path(body)
            target = provider.note_target(body, anchor) if anchor is not None else None
            if target is None:
                return  # nowhere to tell the model the new values: forward the client's front
            note = note_text(found)
            add_note(target, note, edits, suffixes)
            state["notes"].append([list(anchor), message_digest(body, anchor), note])
            thread.notes_seen.add(len(state["notes"]) - 1)
            state["told"] = now_digest
            alignment.pending.append(_state(memo_key, state))
        edits.extend(keep_front)
        report.moved = sorted({c.kind for c in found if c.kind})

    # ---- Anthropic breakpoints and TTL -----------------------------------------------------

    def _breakpoints(
        self, provider: Provider, body: dict, thread: _Thread, client: str, units: list[PromptUnit], edits: list[Edit], report: CacheReport, deltas: dict[Path, int] | None
    ) -> None:
        mode = self.options.ttl
        choice = self.ttl_choice(thread, client, units) if mode == "auto" else None
        if choice is None:
            ttl = mode if mode in (TTL_5M, TTL_1H) else TTL_5M
            report.ttl_reason = f"fixed by headroom_cache_ttl={mode}"
        else:
            # Go to 1 hour only while the cache is warm (the last gap was short): then only the new
            # tokens are written at 2x. Right after a long gap the whole prefix is written again,
            # and writing it at 2x is a bet on a future turn that may never come.
            with self._lock:
                warm = not thread.gaps or thread.gaps[-1] <= 300
                if choice.ttl == TTL_5M or warm:
                    thread.ttl = choice.ttl
                ttl = thread.ttl
            report.ttl_reason = choice.reason + ("" if ttl == choice.ttl else "; waiting for a warm cache to switch")
        placed = None
        if self.options.breakpoints:
            sizes = {u.path: u.chars for u in units}
            min_tokens = self.rules.min_cacheable(body.get("model"))
            placed = provider.place_breakpoints(body, ttl, min_tokens, self.rules.max_breakpoints, deltas, sizes, self.rules.lookback_blocks)
        if placed is not None and placed.added:
            report.breakpoints, report.ttl = placed.added, ttl
        elif ttl == TTL_1H and mode != "client":
            placed = provider.raise_breakpoints_to_1h(body)
            report.upgraded = placed.upgraded if placed else 0
            if report.upgraded:
                report.ttl = TTL_1H
        if placed is not None:
            edits.extend(placed.edits)


# ---- helpers ------------------------------------------------------------------------------


def _state(memo_key: str, state: dict) -> tuple[str, Decision]:
    return memo_key, Decision("align", json.dumps(state, ensure_ascii=False), None, None)


def _first_changed_message(previous: list[PromptUnit], current: list[PromptUnit]) -> int:
    """The index of the first message (or input item) that differs from the previous request's."""
    old = [u for u in previous if u.label.startswith(("messages", "input", "contents"))]
    new = [u for u in current if u.label.startswith(("messages", "input", "contents"))]
    for a, b in zip(old, new):
        if a.digest != b.digest:
            return int(b.path[1]) if len(b.path) > 1 and isinstance(b.path[1], int) else 0
    if len(new) < len(old):
        return int(old[len(new)].path[1]) if len(old[len(new)].path) > 1 else 0
    return 1 << 30


def _digest(front: list[tuple[Path, str]]) -> str:
    return hashlib.sha256("\x00".join(t for _, t in front).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _describe(found: PrefixBreak) -> dict:
    if found.cut:
        cause = "cut"
    else:  # front units keep their text, so a changed value or snapshot there is named
        explained_by = [c.kind for c in changes(found.old_text, found.new_text)] if found.old_text and found.new_text else []
        cause = next((k for k in explained_by if k), "edit")
    return {"at": found.label, "tokens": found.tokens, "of": found.of_tokens, "cause": cause}


_SCAN_CACHE: OrderedDict[str, list[dict]] = OrderedDict()
_SCAN_LOCK = threading.Lock()


def _dynamic_fields(units: list[PromptUnit]) -> list[dict]:
    """Dynamic-looking values in the front (everything before the first message), positioned."""
    out: list[dict] = []
    tokens = 0
    for unit in units:
        if unit.label.startswith(("messages", "input", "contents")):
            break
        with _SCAN_LOCK:
            fields = _SCAN_CACHE.get(unit.digest)
        if fields is None:
            fields = [{"kind": f.kind, "offset": f.start} for f in scan(unit.text)]
            with _SCAN_LOCK:
                _SCAN_CACHE[unit.digest] = fields
                while len(_SCAN_CACHE) > 512:
                    _SCAN_CACHE.popitem(last=False)
        for f in fields:
            if len(out) < MAX_REPORTED_FIELDS:
                out.append({"kind": f["kind"], "at": unit.label, "tokens": tokens + estimate(unit.text[: f["offset"]])})
        tokens += estimate(unit.text)
    return out
