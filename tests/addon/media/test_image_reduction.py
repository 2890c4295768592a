"""reduce_image: smaller, valid, in the same format unless another is far smaller and allowed."""

from __future__ import annotations

import pytest
from PIL import Image

from addon.media.image_reduction import probe, reduce_image
from tests.support.images import decoded, encoded, photo, text_screenshot


def test_a_png_screenshot_stays_a_smaller_png():
    raw = encoded(text_screenshot(1500, 1000))
    out = reduce_image(raw, (750, 500))
    assert out.media_type == "image/png" and out.size == (750, 500) and len(out.data) < len(raw)
    assert decoded(out.data).size == (750, 500)


def test_a_png_photo_becomes_jpeg_only_where_accepted():
    raw = encoded(photo(800, 600))
    assert reduce_image(raw, (400, 300)).media_type == "image/jpeg"
    kept_png = reduce_image(raw, (400, 300), accepts=frozenset({"image/png"}))
    assert kept_png.media_type == "image/png" and decoded(kept_png.data).format == "PNG"


def test_jpeg_and_webp_keep_their_format():
    for fmt, media_type in (("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        out = reduce_image(encoded(photo(800, 600), fmt), (200, 150))
        assert out.media_type == media_type and decoded(out.data).size == (200, 150)


def test_transparency_stays():
    image = Image.new("RGBA", (600, 400), (255, 0, 0, 0))
    out = reduce_image(encoded(image), (300, 200))
    assert out.media_type == "image/png" and decoded(out.data).convert("RGBA").getpixel((5, 5))[3] == 0


def test_probe_reads_the_header_and_refuses_what_it_does_not_reencode():
    found = probe(encoded(text_screenshot(300, 200)))
    assert found is not None and found.size == (300, 200) and found.media_type == "image/png" and not found.animated
    assert probe(b"not an image") is None
    frames = [Image.new("RGB", (50, 50), c) for c in ("red", "blue")]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert probe(gif) is None  # GIFs pass as they are


def test_undecodable_bytes_raise_for_the_caller_to_fail_open():
    raw = encoded(text_screenshot(300, 200))
    with pytest.raises(Exception):
        reduce_image(raw[:200], (100, 66))
