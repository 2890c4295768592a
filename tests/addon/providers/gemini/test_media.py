"""GeminiMedia: inlineData parts in both spellings (Gemini CLI's wrapper too), Gemini's tile
price on the image whole, videos, and a retrieve answer with the original as an inline part."""

from __future__ import annotations

from addon.providers.gemini import Gemini

MEDIA = Gemini().media


def test_inline_data_in_both_spellings_and_the_cli_wrapper():
    parts = [{"inlineData": {"mimeType": "image/png", "data": "QUJD"}}, {"inline_data": {"mime_type": "video/mp4", "data": "QUJD"}}]
    body = {"request": {"contents": [{"role": "user", "parts": parts}]}}
    image, video = MEDIA.blocks(body)
    assert image.data_path == ("request", "contents", 0, "parts", 0, "inlineData", "data") and image.note_type == ""
    assert video.media_type == "video/mp4" and video.type_path[-1] == "mime_type"
    assert image.note_literal("n") == '{"text": "n"}'


def test_its_price_the_image_whole_and_its_defaults():
    assert MEDIA.tokens((384, 384)) == 258
    assert MEDIA.tokens((3000, 2000)) == 258 * 4 * 3
    assert MEDIA.kept((3000, 2000)) == (3000, 2000)
    assert MEDIA.video_tokens(10.0, True) == 10 * (258 + 32) and MEDIA.video_tokens(10.0, False) == 10 * 258
    assert (MEDIA.returns_media, MEDIA.takes_video, MEDIA.display_name, MEDIA.default_max_edge) == (True, True, "Gemini", 1536)


def test_a_video_answer_and_an_expired_one():
    text, video = MEDIA.original_answer("data:video/mp4;base64,AAAA")
    assert "original video (video/mp4)" in text["text"] and video == {"inlineData": {"mimeType": "video/mp4", "data": "AAAA"}}
    assert "expired" in MEDIA.original_answer("not a data url")
