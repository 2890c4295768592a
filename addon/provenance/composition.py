"""The composition of a context window: every unit of a request's prompt with its source and fate.

For each unit (a tool definition, the system prompt, each content block or message, in the
order the provider reads them): its position, role and type; its source (the tool call that
produced a tool output, named by tools/tool_sources.py); whether the provider has seen it yet
(`new`: after the model's last turn); its tokens as the client sent it and as forwarded; what
compression made of it and why; the retrieve ids it carries. Images count by the provider's
formula (its `media`, addon/media/provider_media.py), read from their headers. No content is
kept: a digest of its text tells repeats apart (the same file read three times).

Built off the critical path, on the counting thread, once exact counts are in (see
addon/compression/rewrite_report.py). A conversation re-sends its history on every turn, so the
facts of each unit are cached by the unit's in-process digest: a turn costs the new units only.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from addon.media.image_blocks import split_data_url
from addon.media.image_reduction import probe
from addon.provenance.tool_sources import source_of
from addon.provenance.unit_facts import UnitFacts, describe
from addon.wire.json_splice import value_at
from compressors.tokens import count_tokens

if TYPE_CHECKING:
    from addon.compression.rewrite_report import RewriteReport, SegmentOutcome
    from addon.media.provider_media import ProviderMedia
    from addon.providers import Provider

CACHE_UNITS = 50_000  # unit facts remembered across requests (a long session re-sends thousands)


@dataclass(frozen=True)
class SegmentRecord:
    """One unit of a context window, as the ledger stores it and `headroom trace` shows it."""

    pos: int
    at: str  # where in the body: "messages[3].content[1]"
    role: str  # tools | system | user | assistant | tool
    type: str  # tool | system | text | tool_call | tool_result | image | thinking | …
    source: str  # the tool and its identifying arguments; a tool definition's name
    new: bool  # after the model's last turn: the provider has not seen it yet
    tokens: int  # as the client sent it
    sent: int  # as forwarded
    fate: str  # untouched (not a compression candidate) | whole | compressed | replayed
    reason: str = ""  # why it went whole
    kind: str = ""  # the compressor that decided
    mode: str = ""  # lossless | lossy (carries retrieve ids)
    ids: tuple[str, ...] = ()
    content: str = ""  # a digest of its text: equal digests are repeats
    call: str = ""  # the call it answers, when that call is not in this request (the trace looks it up)

    def as_dict(self) -> dict[str, Any]:
        """Compact: fields at their empty defaults are left out."""
        data = asdict(self)
        data["ids"] = list(self.ids)
        return {k: v for k, v in data.items() if v not in ("", [], None) or k in ("pos", "tokens", "sent", "new")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["ids"] = tuple(known.get("ids") or ())
        return cls(**known)


@dataclass(frozen=True)
class _Known:
    facts: UnitFacts
    tokens: int
    content: str


class Composer:
    """Builds compositions; remembers the facts of units it has seen (thread-safe)."""

    def __init__(self, limit: int = CACHE_UNITS) -> None:
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def compose(self, provider: Provider, document: dict, report: RewriteReport) -> list[SegmentRecord]:
        """The records of every unit of `document` (the client's body), with `report`'s fates."""
        root = provider.prompt_root(document)
        base = value_at(document, root) if root else document
        units = provider.prompt_units(document)
        known = [self._facts(u.digest, u.path, base, provider.media) for u in units]
        last_model_turn = max((i for i, k in enumerate(known) if k.facts.role == "assistant"), default=-1)
        outcomes = _by_unit([root + u.path for u in units], report.outcomes)
        shrunk = _by_unit([root + u.path for u in units], report.rewritten)
        calls: dict[str, tuple[str, dict]] = {}
        records = []
        for i, (u, k) in enumerate(zip(units, known)):
            for call_id, name, args in k.facts.calls:
                calls[call_id] = calls[name] = (name, args)  # Gemini answers by name when calls carry no id
            fate, reason, kind, ids = _fate(outcomes.get(i, []))
            saved = sum((e.tokens_before or 0) - (e.tokens_after or 0) for e in shrunk.get(i, []))
            source = _source(k.facts, calls)
            records.append(SegmentRecord(
                pos=i, at=u.label, role=k.facts.role, type=k.facts.type, source=source,
                call="" if source or not k.facts.answers else k.facts.answers[0][0],
                new=i > last_model_turn, tokens=k.tokens, sent=max(0, k.tokens - saved), fate=fate, reason=reason,
                kind=kind, mode=("lossy" if ids else "lossless") if fate in ("compressed", "replayed") else "",
                ids=ids, content=k.content,
            ))  # fmt: skip
        return records

    def _facts(self, digest: str, path: tuple, base: Any, media: ProviderMedia) -> _Known:
        with self._lock:
            if (hit := self._known.get(digest)) is not None:
                self._known.move_to_end(digest)
                return hit
        message = value_at(base, path[:2]) if len(path) > 2 else None  # a block's message
        role = message.get("role") if isinstance(message, dict) and isinstance(message.get("role"), str) else None
        value = value_at(base, path)
        facts = describe(str(path[0]), value, role)
        tokens = count_tokens(facts.text) + sum(media.tokens(size) for size in image_sizes(value))
        known = _Known(facts, tokens, hashlib.sha256(facts.text.encode("utf-8", "surrogatepass")).hexdigest()[:16])
        with self._lock:
            self._known[digest] = known
            while len(self._known) > self._limit:
                self._known.popitem(last=False)
        return known


def response_calls(document: Any) -> dict[str, str]:
    """The tool calls in a response body, as call id → source line: a client that chains
    requests (Responses' `previous_response_id`, as Codex does) later sends only the calls'
    outputs, so their sources are learnt here (any API's shape: Anthropic content blocks, Chat
    choices, Responses output items, Gemini candidates)."""
    if not isinstance(document, dict):
        return {}
    if isinstance(document.get("response"), dict):  # a `response.completed` event
        document = document["response"]
    items: list[Any] = []
    for key in ("output", "content"):
        if isinstance(document.get(key), list):
            items += document[key]
    for choice in document.get("choices") or [] if isinstance(document.get("choices"), list) else []:
        items.append(choice.get("message") if isinstance(choice, dict) else None)
    for candidate in document.get("candidates") or [] if isinstance(document.get("candidates"), list) else []:
        items.append(candidate.get("content") if isinstance(candidate, dict) else None)
    out = {}
    for item in items:
        if isinstance(item, dict):
            for call_id, name, args in describe("messages", item).calls:
                out[call_id] = source_of(name, args)
    return out


def image_sizes(value: Any) -> list[tuple[int, int]]:
    """The pixel sizes of the base64 images in a value (every API's shape: a `data` string beside
    an image media type, or a `data:image/…` URL), read from their headers."""
    found: list[str] = []
    _base64_images(value, found)
    sizes = []
    for data in found:
        try:
            probed = probe(base64.b64decode(data, validate=False))
        except ValueError:
            continue
        if probed is not None:
            sizes.append(probed.size)
    return sizes


def _base64_images(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        if (split := split_data_url(value)) is not None and split[0].startswith("image/"):
            out.append(split[1])
    elif isinstance(value, dict):
        media = value.get("media_type") or value.get("mimeType") or value.get("mime_type") or ""
        if isinstance(value.get("data"), str) and isinstance(media, str) and media.startswith("image/"):
            out.append(value["data"])
        for item in value.values():
            if isinstance(item, dict | list) or (isinstance(item, str) and item.startswith("data:image/")):
                _base64_images(item, out)
    elif isinstance(value, list):
        for item in value:
            _base64_images(item, out)


def _by_unit(unit_paths: list[tuple], items: list) -> dict[int, list]:
    """Items with a `path` grouped by the unit that holds them (the longest unit path that is a prefix)."""
    index = {path: i for i, path in enumerate(unit_paths)}
    out: dict[int, list] = {}
    for item in items:
        path = tuple(item.path)
        for n in range(len(path), 0, -1):
            if (i := index.get(path[:n])) is not None:
                out.setdefault(i, []).append(item)
                break
    return out


def _fate(outcomes: list[SegmentOutcome]) -> tuple[str, str, str, tuple[str, ...]]:
    """A unit's fate from its segments': the strongest (compressed, replayed, then whole)."""
    if not outcomes:
        return "untouched", "", "", ()
    for fate in ("compressed", "replayed"):
        done = [o for o in outcomes if o.fate == fate]
        if done:
            ids = tuple(dict.fromkeys(i for o in done for i in o.ids))
            return fate, "", done[0].kind, ids
    first = outcomes[0]
    return "whole", first.reason, first.kind, ()


def _source(facts: UnitFacts, calls: dict[str, tuple[str, dict]]) -> str:
    if facts.role == "tools":
        return facts.name
    if facts.calls:
        return "; ".join(source_of(name, args) for _, name, args in facts.calls)
    sources = []
    for call_id, name in facts.answers:
        called = calls.get(call_id) or (calls.get(name) if name else None)
        sources.append(source_of(*called) if called else name)
    return "; ".join(s for s in sources if s)
