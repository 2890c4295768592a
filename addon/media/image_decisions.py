"""What to forward for each image of a request: its memoised form replayed, a smaller one made
now if it is fresh, or the image as it is; a reduction below what the provider keeps only with
a way back to the original.

Like text (addon/compression/segment_decisions.py), a decision is keyed by content and
remembered once the body it went out in exists, so the same image re-sent gets the same bytes,
and one the provider saw whole stays whole. Gemini inline videos are decided the same way, as
their frames (addon/media/video_decisions.py).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from addon.compression.decision_memo import Decision, DecisionMemo, content_key
from addon.media.image_blocks import MediaBlock
from addon.media.image_reduction import Reduced, probe, reduce_image
from addon.media.image_tokens import Size, scaled
from addon.media.video_decisions import DEFAULT_VIDEO_FPS, VIDEO, VideoForm, video_edits, video_form
from addon.media.video_decisions import memo_key as video_memo_key
from addon.media.video_frames import NotAVideo, OverBudget, sample_frames
from addon.providers import PROVIDERS
from addon.retrieval.retrieval_path import RetrievalPath
from addon.retrieval.retrieve_tool import marker_ids
from addon.wire.json_splice import Append, Edit, Replacement

if TYPE_CHECKING:
    from addon.providers import Provider

IMAGE = "image"  # the decision kind, and the kind of a stored original image or video (answered as media)
# Default long edges, by provider name (the `headroom_image_max_edge` option's keys): what the
# model still reads well, never more than the provider keeps anyway (its media's `kept`). Each
# provider's media module says why its number (addon/providers/<provider>/media.py); one whose
# tool results cannot carry the original back goes no smaller than it keeps.
DEFAULT_MAX_EDGE: Mapping[str, int] = {p.name: p.media.default_max_edge for p in PROVIDERS if p.media.default_max_edge}
MIN_SAVED_TOKENS = 50  # a lossy reduction must save at least this many tokens ...
MIN_BYTES_SAVING = 0.10  # ... a lossless one (the provider's own size) this share of the bytes


@dataclass(frozen=True)
class ImageSettings:
    """Whether images are made smaller, and each provider's long edge in pixels."""

    enabled: bool = True
    max_edge: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MAX_EDGE))
    video_fps: float = DEFAULT_VIDEO_FPS  # Gemini inline video: frames looked at per second
    # Longest a request waits for a video's frames (the text budget and the model's together):
    # past it the video goes whole, remembered so, like a text segment over its budget.
    video_budget_s: float = 3.0


@dataclass(frozen=True)
class Forwarded:
    """What goes out in an image's place: remembered as a decision's text (JSON)."""

    data: str
    media_type: str
    note: str
    size_before: Size
    size_after: Size
    tokens_before: int
    tokens_after: int

    def encoded(self) -> str:
        return json.dumps([self.data, self.media_type, self.note, *self.size_before, *self.size_after, self.tokens_before, self.tokens_after])

    @staticmethod
    def decoded(text: str) -> Forwarded:
        data, media_type, note, w, h, w2, h2, before, after = json.loads(text)
        return Forwarded(data, media_type, note, (w, h), (w2, h2), before, after)


@dataclass
class ImageFigures:
    """What this request's images cost before and after, by the provider's formula."""

    images: int = 0
    videos: int = 0
    reduced: int = 0
    replayed: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    markers: int = 0
    new_markers: int = 0
    over_budget: int = 0  # videos left whole: sampling ran past its budget
    errors: list[str] = field(default_factory=list)
    reductions: list[tuple[tuple, Forwarded | VideoForm, bool]] = field(default_factory=list, repr=False)  # (path, form, replayed)

    def as_dict(self) -> dict[str, int]:
        """The figures for the rewrite report (and so the ledger and the view)."""
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


@dataclass
class ImagePlan:
    edits: list[Edit] = field(default_factory=list)
    decisions: list[tuple[str, Decision]] = field(default_factory=list)
    figures: ImageFigures = field(default_factory=ImageFigures)
    store_down: bool = False


def memo_key(provider: str, data: str) -> str:
    """An image's decision, per provider (their sizes differ), by the content of its data."""
    return f"{IMAGE}:{provider}:{content_key(data)}"


def plan_images(
    provider: Provider, document: dict, memo: DecisionMemo, settings: ImageSettings, retrieval: RetrievalPath | None, lossy_ok: bool
) -> ImagePlan:
    """Decide every image of a body: the edits to make and the new decisions to remember.
    `lossy_ok`: this request may carry the retrieve tool, so an image may go below what the
    provider keeps (its original stored, its id in the note)."""
    out = ImagePlan()
    seen_whole: set[str] = set()  # images the provider saw whole: a fresh copy goes whole too
    made: dict[str, Decision] = {}  # decided on this request (the memo hears of them later)
    for block in provider.media.blocks(document):
        video = provider.media.takes_video and block.media_type.startswith("video/")
        if not video and not block.media_type.startswith("image/"):
            continue
        out.figures.videos += video
        out.figures.images += not video
        key = video_memo_key(provider.name, block.data) if video else memo_key(provider.name, block.data)
        decision = made[key] if key in made else memo.get(key)
        replayed = decision is not None and key not in made
        if decision is None:
            if not block.fresh or key in seen_whole or not settings.enabled:
                seen_whole.add(key)
                continue
            decide = _decide_video if video else _decide
            decision, replayed = decide(provider, block, settings, retrieval, lossy_ok, out), False
            made[key] = decision
            out.decisions.append((key, decision))
        if decision.text is None:
            continue
        form = VideoForm.decoded(decision.text) if video else Forwarded.decoded(decision.text)
        if replayed and not _keep_marker_alive(form, retrieval, out):
            continue  # a marker without a way back: the original goes this time
        out.edits += video_edits(block, form) if isinstance(form, VideoForm) else _edits(block, form)
        _count(out.figures, block, form, replayed)
    return out


def _decide(provider: Provider, block: MediaBlock, settings: ImageSettings, retrieval: RetrievalPath | None, lossy_ok: bool, out: ImagePlan) -> Decision:
    """A fresh image's decision (fails open: an image that cannot be read goes whole)."""
    try:
        raw = base64.b64decode(block.data, validate=True)
    except (binascii.Error, ValueError) as e:
        out.figures.errors.append(f"image: {e}")
        return Decision(IMAGE, None, None, None)
    found = probe(raw)
    if found is None or found.animated:
        return Decision(IMAGE, None, None, None)
    media, size, detail = provider.media, found.size, block.detail
    provider_size = media.kept(size, detail)
    returns = lossy_ok and retrieval is not None and media.returns_media
    edge = settings.max_edge.get(provider.name, media.default_max_edge or max(size))
    user_size = scaled(size, edge / max(size))
    target = user_size if returns and user_size[0] < provider_size[0] else provider_size
    if target == size:
        return Decision(IMAGE, None, None, None)
    try:
        reduced = reduce_image(raw, target)
    except Exception as e:  # noqa: BLE001 - Pillow raises many kinds: fail open
        out.figures.errors.append(f"image: {type(e).__name__}: {e}")
        return Decision(IMAGE, None, None, None)
    before, after = media.tokens(size, detail), media.tokens(reduced.size, detail)
    lossy = target != provider_size
    if lossy and before - after < MIN_SAVED_TOKENS:
        lossy, target = False, provider_size  # not worth a marker: what the provider keeps
        if target == size:
            return Decision(IMAGE, None, None, None)
        reduced = reduce_image(raw, target)
        after = media.tokens(reduced.size, detail)
    if not lossy and len(reduced.data) > (1 - MIN_BYTES_SAVING) * len(raw):
        return Decision(IMAGE, None, None, None)
    note = _note(size, reduced, block, retrieval, out) if lossy else _kept_note(media.display_name, size, reduced)
    if note is None:  # the store is down: the original cannot be kept, so no lower than the provider keeps
        return _decide(provider, block, settings, None, False, out)
    data = base64.b64encode(reduced.data).decode("ascii")
    return Decision(IMAGE, Forwarded(data, reduced.media_type, note, size, reduced.size, before, after).encoded(), before, after)


def _decide_video(provider: Provider, block: MediaBlock, settings: ImageSettings, retrieval: RetrievalPath | None, lossy_ok: bool, out: ImagePlan) -> Decision:
    """A fresh Gemini video's decision: its frames, only where this request can carry the
    retrieve tool (the original stored); else, or if it does not decode, the video whole."""
    whole = Decision(VIDEO, None, None, None)
    if not lossy_ok or retrieval is None:
        return whole
    try:
        sampled = sample_frames(base64.b64decode(block.data, validate=True), settings.video_fps, budget_s=settings.video_budget_s)
    except (binascii.Error, ValueError, NotAVideo):  # not a video we can read: it goes as sent
        return whole
    except OverBudget:
        out.figures.over_budget += 1
        return whole
    except Exception as e:  # noqa: BLE001 - FFmpeg raises many kinds: fail open
        out.figures.errors.append(f"video: {type(e).__name__}: {e}")
        return whole
    if not sampled.frames:
        return whole
    unstored = video_form(sampled, provider.media, block.media_type, settings.video_fps, "0" * 24)  # ids are 24 characters
    if unstored.tokens_before - unstored.tokens_after < MIN_SAVED_TOKENS:
        return whole
    original_id = _store_original(block, retrieval, out)
    if original_id is None:
        return whole
    form = video_form(sampled, provider.media, block.media_type, settings.video_fps, original_id)
    return Decision(VIDEO, form.encoded(), form.tokens_before, form.tokens_after)


def _store_original(block: MediaBlock, retrieval: RetrievalPath, out: ImagePlan) -> str | None:
    """The original kept (as a data URL, so the retrieve answer returns it as media); its id,
    or None when the store is down."""
    try:
        original_id = retrieval.originals.store(f"data:{block.media_type};base64,{block.data}", retrieval.owner, IMAGE)
    except Exception as e:  # noqa: BLE001 - StoreUnavailable and the like
        out.figures.errors.append(f"store: {type(e).__name__}: {e}")
        out.store_down = True
        return None
    out.figures.new_markers += 1
    return original_id


def _note(size: Size, reduced: Reduced, block: MediaBlock, retrieval: RetrievalPath | None, out: ImagePlan) -> str | None:
    """The marker beside a reduced image: its sizes, and the id that fetches the original."""
    assert retrieval is not None
    original_id = _store_original(block, retrieval, out)
    if original_id is None:
        return None
    return f"[… image folded: sent at {_dims(reduced.size)} px, the original is {_dims(size)} px · retrieve id={original_id}]"


def _kept_note(reader: str, size: Size, reduced: Reduced) -> str:
    """Beside an image sent at the size the provider keeps: nothing lost, and no way back needed."""
    return f"[image sent at {_dims(reduced.size)} px, the size {reader} reads it at (the original is {_dims(size)} px)]"


def _keep_marker_alive(form: Forwarded | VideoForm, retrieval: RetrievalPath | None, out: ImagePlan) -> bool:
    """A replayed marker needs a retrieve path; its original's life is extended (the store
    failing only costs that: the original was stored when the marker was first sent)."""
    ids = marker_ids(form.note)
    if not ids:
        return True
    if retrieval is None:
        return False
    try:
        retrieval.originals.touch(ids, retrieval.owner)
    except Exception as e:  # noqa: BLE001
        out.figures.errors.append(f"store: {type(e).__name__}: {e}")
    return True


def _edits(block: MediaBlock, form: Forwarded) -> list[Edit]:
    edits: list[Edit] = [Replacement(block.data_path, block.data_value(form.data, form.media_type))]
    if block.type_path is not None and form.media_type != block.media_type:
        edits.append(Replacement(block.type_path, form.media_type))
    edits.append(Append(block.list_path, block.note_literal(form.note)))
    return edits


def _count(figures: ImageFigures, block: MediaBlock, form: Forwarded | VideoForm, replayed: bool) -> None:
    figures.reduced += 1
    figures.replayed += replayed
    figures.markers += bool(marker_ids(form.note))
    figures.tokens_before += form.tokens_before
    figures.tokens_after += form.tokens_after
    figures.bytes_before += len(block.data) * 3 // 4
    figures.bytes_after += form.frame_bytes() if isinstance(form, VideoForm) else len(form.data) * 3 // 4
    figures.reductions.append((block.data_path, form, replayed))


def _dims(size: Size) -> str:
    return f"{size[0]}×{size[1]}"


def parse_max_edge(entries: list[str] | tuple[str, ...]) -> dict[str, int]:
    """`PROVIDER=PIXELS` entries over the defaults; ValueError saying what to write instead."""
    edges = dict(DEFAULT_MAX_EDGE)
    for entry in entries:
        name, _, pixels = entry.partition("=")
        name = name.strip()
        if name not in DEFAULT_MAX_EDGE or not pixels.strip().isdigit() or int(pixels) < 64:
            known = ", ".join(DEFAULT_MAX_EDGE)
            raise ValueError(f"headroom_image_max_edge: {entry!r} is not PROVIDER=PIXELS (providers: {known}; at least 64 px)")
        edges[name] = int(pixels)
    return edges
