"""What an image costs each provider, by its documented formula, after its own resize (and what
a Gemini video costs, by frames and audio seconds). Plain formulas: each provider's media
(addon/providers/<provider>/media.py) picks its own.

A provider never sees more pixels than it keeps: an image larger than that costs the same as
the kept size, and shrinking it down to that size is lossless from the model's view.
"""

from __future__ import annotations

import math

ANTHROPIC_MAX_EDGE = 1568  # Anthropic scales the long edge down to 1568 px ...
ANTHROPIC_MAX_PIXELS = 1_150_000  # ... and the image to about 1.15 megapixels (≈1,600 tokens)
ANTHROPIC_PIXELS_PER_TOKEN = 750
OPENAI_FIT = 2048  # detail high: fit within 2048 × 2048 ...
OPENAI_SHORT_SIDE = 768  # ... then scale so the short side is at most 768 px
OPENAI_TILE = 512
OPENAI_BASE, OPENAI_PER_TILE = 85, 170
OPENAI_LOW_EDGE = 512  # detail low: one 512-px image, 85 tokens
GEMINI_TILE = 768
GEMINI_SMALL = 384  # both sides at most this: one tile's price
GEMINI_PER_TILE = 258
# Gemini video: it samples 1 frame per second, 258 tokens a frame (default media resolution),
# and the audio track at 32 tokens per second (its docs round the pair to ~300 tokens/s).
GEMINI_VIDEO_FPS = 1
GEMINI_VIDEO_FRAME = 258
GEMINI_AUDIO_PER_SECOND = 32

Size = tuple[int, int]


def scaled(size: Size, factor: float) -> Size:
    """`size` times `factor` (at most 1), each side rounded down and at least 1 px."""
    if factor >= 1:
        return size
    return max(1, int(size[0] * factor)), max(1, int(size[1] * factor))


def anthropic_kept(size: Size) -> Size:
    """The size Anthropic resizes an image to before it reads it."""
    w, h = size
    return scaled(size, min(ANTHROPIC_MAX_EDGE / max(w, h), math.sqrt(ANTHROPIC_MAX_PIXELS / (w * h))))


def openai_kept(size: Size, detail: str = "high") -> Size:
    """The size OpenAI resizes an image to: fit 2048², then a short side of 768 (detail high)."""
    if detail == "low":
        return scaled(size, OPENAI_LOW_EDGE / max(size))
    fitted = scaled(size, OPENAI_FIT / max(size))
    return scaled(fitted, OPENAI_SHORT_SIDE / min(fitted))


def anthropic_tokens(size: Size) -> int:
    """Input tokens an image of `size` costs Anthropic: its kept pixels, 750 a token."""
    w, h = anthropic_kept(size)
    return math.ceil(w * h / ANTHROPIC_PIXELS_PER_TOKEN)


def openai_tokens(size: Size, detail: str = "high") -> int:
    """Input tokens an image of `size` costs OpenAI: a base, and each 512-px tile of its kept size."""
    if detail == "low":
        return OPENAI_BASE
    w, h = openai_kept(size)
    return OPENAI_BASE + OPENAI_PER_TILE * math.ceil(w / OPENAI_TILE) * math.ceil(h / OPENAI_TILE)


def gemini_tokens(size: Size) -> int:
    """Input tokens an image of `size` costs Gemini: each 768-px tile of it whole (one for a small one)."""
    w, h = size
    if w <= GEMINI_SMALL and h <= GEMINI_SMALL:
        return GEMINI_PER_TILE
    return GEMINI_PER_TILE * math.ceil(w / GEMINI_TILE) * math.ceil(h / GEMINI_TILE)


def gemini_video_tokens(seconds: float, has_audio: bool) -> int:
    """Input tokens a video of `seconds` costs Gemini: a frame a second, and its audio."""
    whole = math.ceil(seconds - 1e-6) if seconds > 0 else 0
    return whole * GEMINI_VIDEO_FPS * GEMINI_VIDEO_FRAME + (whole * GEMINI_AUDIO_PER_SECOND if has_audio else 0)
