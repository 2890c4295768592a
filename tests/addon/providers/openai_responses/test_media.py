"""OpenAIResponsesMedia: `input_image` data URLs in user items and function outputs, OpenAI's
price, no way back."""

from __future__ import annotations

from addon.media.provider_media import NO_IMAGES
from addon.providers.openai_responses import OpenAIResponses

MEDIA = OpenAIResponses().media


def test_input_images_in_user_items_and_function_outputs():
    responses = {"input": [
        {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/jpeg;base64,QUJD"}, {"type": "input_image", "file_id": "f1"}]},
        {"type": "function_call", "call_id": "c", "name": "shot", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": [{"type": "input_image", "image_url": "data:image/png;base64,QUJD", "detail": "low"}]},
    ]}  # fmt: skip
    first, second = MEDIA.blocks(responses)
    assert first.media_type == "image/jpeg" and first.note_type == "input_text" and not first.fresh
    assert second.in_tool_result and second.fresh and second.detail == "low" and second.list_path == ("input", 2, "output")


def test_its_price_its_size_and_its_defaults():
    assert MEDIA.tokens((1024, 1024)) == 85 + 170 * 4  # 768x768: 4 tiles
    assert MEDIA.kept((500, 300)) == (500, 300)
    assert (MEDIA.returns_media, MEDIA.takes_video, MEDIA.display_name, MEDIA.default_max_edge) == (False, False, "OpenAI", 2048)


def test_its_tool_outputs_cannot_carry_an_original():
    assert MEDIA.original_answer("data:video/mp4;base64,AAAA") == NO_IMAGES
