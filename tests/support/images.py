"""Images and a short video generated for tests and the image benchmark: no downloaded data."""

from __future__ import annotations

import base64
import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WORDS = "def return class import headroom proxy tokens image request body cache model assert value".split()


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def text_screenshot(width: int = 3000, height: int = 2000, seed: int = 1, font_px: int = 26) -> Image.Image:
    """A terminal/editor-like screenshot: lines of dark text on white, a line-number gutter."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = _font(font_px)
    draw.rectangle((0, 0, 6 * font_px, height), fill=(240, 240, 240))
    for n, y in enumerate(range(font_px, height - font_px, int(font_px * 1.5))):
        draw.text((font_px, y), f"{n + 1:4d}", fill=(150, 150, 150), font=font)
        line = " " * rng.randrange(0, 12, 4) + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 14)))
        draw.text((7 * font_px, y), line, fill=(20, 20, 60), font=font)
    return image


def ui_screenshot(width: int = 2880, height: int = 1800, seed: int = 2) -> Image.Image:
    """A web-app-like screenshot: a sidebar, a header, cards with titles, buttons and text."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (248, 249, 251))
    draw = ImageDraw.Draw(image)
    font, title = _font(24), _font(34)
    draw.rectangle((0, 0, width // 6, height), fill=(33, 37, 41))
    draw.rectangle((width // 6, 0, width, 90), fill=(255, 255, 255))
    for k in range(12):
        draw.text((30, 140 + 60 * k), rng.choice(WORDS).title(), fill=(220, 220, 220), font=font)
    x0 = width // 6 + 40
    for row in range(3):
        for col in range(3):
            x, y = x0 + col * (width - x0) // 3, 130 + row * 540
            draw.rounded_rectangle((x, y, x + (width - x0) // 3 - 40, y + 500), 16, fill="white", outline=(222, 226, 230), width=2)
            draw.text((x + 24, y + 24), " ".join(rng.choice(WORDS) for _ in range(3)).title(), fill=(30, 30, 30), font=title)
            for line in range(8):
                draw.text((x + 24, y + 90 + 40 * line), " ".join(rng.choice(WORDS) for _ in range(6)), fill=(90, 90, 90), font=font)
            draw.rounded_rectangle((x + 24, y + 420, x + 224, y + 470), 10, fill=(13, 110, 253))
    return image


def photo(width: int = 4000, height: int = 3000, seed: int = 3) -> Image.Image:
    """A photo-like image: smooth colour gradients, soft shapes and sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 100 * np.sin(x / width * 3.1 + seed)
    g = 128 + 100 * np.cos(y / height * 2.3)
    b = 128 + 80 * np.sin((x + y) / (width + height) * 5.0)
    pixels = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decoded(data: str | bytes) -> Image.Image:
    """An image from base64 (or raw bytes), fully loaded: proof that it is a valid image."""
    raw = base64.b64decode(data) if isinstance(data, str) else data
    image = Image.open(io.BytesIO(raw))
    image.load()
    return image
