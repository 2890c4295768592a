"""What goes out in place of a fresh Gemini inline video (`inlineData` with a `video/*` type):
its frames, sampled at a rate with near-duplicates dropped (addon/media/video_frames.py), each
a JPEG `inlineData` part after a text part with its timestamp, behind a note that names the
original's retrieve id; or the video whole.

One part becomes several: a ReplaceElement edit (addon/wire/json_splice.py) swaps the video's
part for the new ones, every other byte of the body as it came. The form is remembered as a
decision's text (JSON), so a re-sent video gets the same bytes.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

from addon.compression.decision_memo import content_key
from addon.media.image_blocks import MediaBlock
from addon.media.provider_media import ProviderMedia
from addon.media.video_frames import Sampled
from addon.wire.json_splice import Edit, ReplaceElement

VIDEO = "video"  # the decision kind
# Gemini itself reads a video at 1 frame a second: sampling at that rate keeps every moment it
# would see, and dropping near-duplicates is where the saving comes from. Higher rates find a
# change of scene sooner but decode and compare more (scripts/bench_video.py measures both).
DEFAULT_VIDEO_FPS = 1.0
MAX_VIDEO_FPS = 30.0
CHARS_PER_TOKEN = 4  # the text parts (timestamps, note) are counted at ~4 characters a token


@dataclass(frozen=True)
class VideoForm:
    """What goes out in a video's place: frames (seconds, base64 JPEG, width, height) and a note."""

    frames: tuple[tuple[float, str, int, int], ...]
    note: str
    tokens_before: int
    tokens_after: int

    def encoded(self) -> str:
        return json.dumps([[list(f) for f in self.frames], self.note, self.tokens_before, self.tokens_after])

    @staticmethod
    def decoded(text: str) -> VideoForm:
        frames, note, before, after = json.loads(text)
        return VideoForm(tuple((float(s), d, int(w), int(h)) for s, d, w, h in frames), note, before, after)

    def frame_bytes(self) -> int:
        return sum(len(data) * 3 // 4 for _, data, _, _ in self.frames)


def memo_key(provider: str, data: str) -> str:
    """A video's decision, by the content of its data."""
    return f"{VIDEO}:{provider}:{content_key(data)}"


def timestamp(seconds: float) -> str:
    """`mm:ss.s` (`h:mm:ss.s` past an hour), as the frame labels show it."""
    tenths = round(seconds * 10)
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    clock = f"{minutes:02d}:{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{clock}" if hours else clock


def video_form(sampled: Sampled, media: ProviderMedia, media_type: str, fps: float, original_id: str) -> VideoForm:
    """The frames and note for a sampled video whose original is stored under `original_id`,
    its tokens by `media`'s formulas (Gemini's: the only API here that takes video)."""
    frames = tuple((f.seconds, base64.b64encode(f.jpeg).decode("ascii"), *f.size) for f in sampled.frames)
    audio = "; its audio track is not sent" if sampled.has_audio else ""
    note = (
        f"[… video folded: {sampled.duration:.1f} s of {media_type} sent as {len(frames)} frame(s), one looked at every "
        f"{1 / fps:g} s with near-duplicates dropped{audio} · retrieve id={original_id}]"
    )
    texts = len(note) + sum(len(_label(s)) for s, *_ in frames)
    after = sum(media.tokens((w, h)) for *_, w, h in frames) + math.ceil(texts / CHARS_PER_TOKEN)
    return VideoForm(frames, note, media.video_tokens(sampled.duration, sampled.has_audio), after)


def video_edits(block: MediaBlock, form: VideoForm) -> list[Edit]:
    """The video's part replaced by the note, then a timestamp and an image per frame, in the
    key spelling the client used (`inlineData`/`mimeType` or `inline_data`/`mime_type`)."""
    data_key = block.data_path[-2]
    type_key = block.type_path[-1] if block.type_path is not None else "mimeType"
    parts = [{"text": form.note}]
    for seconds, data, _, _ in form.frames:
        parts += [{"text": _label(seconds)}, {data_key: {type_key: "image/jpeg", "data": data}}]
    return [ReplaceElement(block.data_path[:-2], tuple(json.dumps(p, ensure_ascii=False) for p in parts))]


def parse_video_fps(value: float) -> float:
    """The sampling rate option; ValueError saying what to write instead."""
    if not 0 < value <= MAX_VIDEO_FPS:
        raise ValueError(f"headroom_video_fps: {value!r} is not a rate in frames per second (above 0, at most {MAX_VIDEO_FPS:g}; Gemini reads 1)")
    return float(value)


def _label(seconds: float) -> str:
    return f"[frame at {timestamp(seconds)}]"
