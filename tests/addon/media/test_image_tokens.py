"""Each provider's image price, by its documented formula."""

from __future__ import annotations

from addon.media.image_tokens import anthropic_kept, anthropic_tokens, gemini_tokens, openai_kept, openai_tokens, scaled


def test_anthropic_keeps_1568_px_and_about_1_15_megapixels():
    assert anthropic_kept((1000, 800)) == (1000, 800)
    w, h = anthropic_kept((3000, 2000))
    assert max(w, h) <= 1568 and w * h <= 1_150_000 and abs(w / h - 1.5) < 0.01
    assert anthropic_kept((4000, 500))[0] == 1568
    assert anthropic_tokens((1000, 750)) == 1000  # w*h/750
    assert anthropic_tokens((3000, 2000)) == anthropic_tokens((w, h)) <= 1534


def test_openai_fits_2048_then_768_short_side_and_tiles_of_512():
    assert openai_kept((2048, 4096)) == (768, 1536)
    assert openai_tokens((2048, 4096)) == 85 + 170 * 6  # OpenAI's documented example
    assert openai_tokens((1024, 1024)) == 85 + 170 * 4  # 768x768: 4 tiles
    assert openai_tokens((4000, 3000), "low") == 85
    assert openai_kept((4000, 3000), "low") == (512, 384)
    assert openai_kept((500, 300)) == (500, 300)


def test_gemini_tiles_of_768_and_small_images_one_tile():
    assert gemini_tokens((384, 384)) == 258
    assert gemini_tokens((385, 100)) == 258  # one tile
    assert gemini_tokens((3000, 2000)) == 258 * 4 * 3


def test_scaled_never_grows_and_keeps_a_pixel():
    assert scaled((100, 50), 2.0) == (100, 50)
    assert scaled((10000, 1), 0.01) == (100, 1)
