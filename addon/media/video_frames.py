"""A video's frames for Gemini: decoded with PyAV, sampled at a rate, near-duplicates dropped,
the rest as JPEG. Bytes in, frames out, no I/O.

Deterministic (the same bytes and settings give the same frames), so a decision replayed from
the memo and one made again agree. FFmpeg's decoders release the GIL, so the worker thread
that runs this does not hold up the event loop.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass

import av
import numpy as np

from addon.media.image_tokens import GEMINI_TILE, Size, scaled

# A sampled frame is kept when its small grayscale thumbnail differs from the last kept one's
# by more than this mean absolute difference (0-255). Measured on generated videos
# (scripts/bench_video.py): sensor noise and H.264 artefacts within a scene stay ≤ 3.1 (σ = 24,
# a very noisy camera; ≤ 1.1 at σ = 8), a cut between scenes gives ~25, a new shape over ~3%
# of the frame 4.2-7.8. A pan or fade accumulates against the last kept frame, so it is kept
# again once it has moved far enough. A smaller change (one line of text in a screen
# recording) is missed: the retrieve id in the note brings the whole video back.
SCENE_THRESHOLD = 4.0
THUMB_WIDTH = 64  # the thumbnail compared: small enough to ignore noise, big enough for a shape
FRAME_MAX_EDGE = GEMINI_TILE  # a kept frame's long edge: one 768-px tile, 258 tokens
JPEG_QUALITY = 80
EPSILON = 1e-6  # timestamps are fractions of a time base: compare with a little slack


class NotAVideo(ValueError):
    """The bytes have no video stream PyAV can decode."""


class OverBudget(TimeoutError):
    """Sampling took longer than the request may wait: the video goes whole."""


@dataclass(frozen=True)
class Frame:
    seconds: float  # from the start of the video
    jpeg: bytes
    size: Size


@dataclass(frozen=True)
class Sampled:
    frames: list[Frame]  # the kept ones, in order
    sampled: int  # frames looked at (one per 1/fps seconds)
    duration: float  # seconds
    has_audio: bool
    size: Size  # the video's own frame size


def sample_frames(
    data: bytes, fps: float, threshold: float = SCENE_THRESHOLD, max_edge: int = FRAME_MAX_EDGE, budget_s: float | None = None
) -> Sampled:
    """One frame per 1/`fps` seconds, kept only where it differs from the last kept one.
    Raises NotAVideo (or PyAV's errors) for bytes it cannot decode: the caller fails open; and
    OverBudget past `budget_s` seconds of decoding (a long, large video)."""
    deadline = time.monotonic() + budget_s if budget_s is not None else math.inf
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError) as e:
        raise NotAVideo(str(e)) from e
    with container:
        if not container.streams.video:
            raise NotAVideo("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # FFmpeg's own threads: frames decode in parallel
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0
        frames: list[Frame] = []
        sampled, slot, last_thumb, last_time, size = 0, 0.0, None, 0.0, (0, 0)
        for frame in container.decode(stream):
            if time.monotonic() > deadline:
                raise OverBudget(f"sampling ran past {budget_s} s")
            if frame.time is None:
                continue
            seconds = max(0.0, frame.time - start)
            last_time, size = seconds, (frame.width, frame.height)
            if seconds + EPSILON < slot:
                continue
            sampled += 1
            slot = (math.floor(seconds * fps + EPSILON) + 1) / fps  # the next sampling instant
            thumb = _thumbnail(frame)
            if last_thumb is not None and float(np.abs(thumb - last_thumb).mean()) <= threshold:
                continue
            last_thumb = thumb
            frames.append(_kept(frame, seconds, max_edge))
        if not sampled:
            raise NotAVideo("no decodable frame")
        duration = container.duration / av.time_base if container.duration else last_time + 1 / float(stream.average_rate or 1)
        return Sampled(frames, sampled, duration, bool(container.streams.audio), size)


def _thumbnail(frame: av.VideoFrame) -> np.ndarray:
    height = max(1, round(THUMB_WIDTH * frame.height / max(1, frame.width)))
    small = frame.reformat(width=THUMB_WIDTH, height=height, format="gray", interpolation="AREA")
    return small.to_ndarray().astype(np.int16)


def _kept(frame: av.VideoFrame, seconds: float, max_edge: int) -> Frame:
    width, height = scaled((frame.width, frame.height), max_edge / max(frame.width, frame.height))
    image = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_image()
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return Frame(round(seconds, 3), buffer.getvalue(), (width, height))
