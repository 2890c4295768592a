"""Each provider's image price, by its documented formula."""

from __future__ import annotations

from addon.media.image_tokens import anthropic_kept, image_tokens, kept, openai_kept, scaled


def test_anthropic_keeps_1568_px_and_about_1_15_megapixels():
    assert anthropic_kept((1000, 800)) == (1000, 800)
    w, h = anthropic_kept((3000, 2000))
    assert max(w, h) <= 1568 and w * h <= 1_150_000 and abs(w / h - 1.5) < 0.01
    assert anthropic_kept((4000, 500))[0] == 1568
    assert image_tokens("anthropic", (1000, 750)) == 1000  # w*h/750
    assert image_tokens("anthropic", (3000, 2000)) == image_tokens("anthropic", (w, h)) <= 1534


def test_openai_fits_2048_then_768_short_side_and_tiles_of_512():
    assert openai_kept((2048, 4096)) == (768, 1536)
    assert image_tokens("openai_chat", (2048, 4096)) == 85 + 170 * 6  # OpenAI's documented example
    assert image_tokens("openai_responses", (1024, 1024)) == 85 + 170 * 4  # 768x768: 4 tiles
    assert image_tokens("openai_chat", (4000, 3000), "low") == 85
    assert openai_kept((4000, 3000), "low") == (512, 384)
    assert openai_kept((500, 300)) == (500, 300)


def test_gemini_tiles_of_768_and_small_images_one_tile():
    assert image_tokens("gemini", (384, 384)) == 258
    assert image_tokens("gemini", (385, 100)) == 258  # one tile
    assert image_tokens("gemini", (3000, 2000)) == 258 * 4 * 3
    assert kept("gemini", (3000, 2000)) == (3000, 2000)


def test_scaled_never_grows_and_keeps_a_pixel():
    assert scaled((100, 50), 2.0) == (100, 50)
    assert scaled((10000, 1), 0.01) == (100, 1)
