"""OpenAIChatMedia: base64 data-URL `image_url` parts only, OpenAI's price, no way back."""

from __future__ import annotations

from addon.media.provider_media import NO_IMAGES
from addon.providers.openai_chat import OpenAIChat

MEDIA = OpenAIChat().media


def test_data_urls_only_with_their_detail():
    chat = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
    ]}]}  # fmt: skip
    [block] = MEDIA.blocks(chat)
    assert block.data == "QUJD" and block.detail == "low" and block.type_path is None and block.fresh
    assert block.data_path == ("messages", 0, "content", 0, "image_url", "url")
    assert block.data_value("WFla", "image/jpeg") == "data:image/jpeg;base64,WFla"


def test_its_price_its_size_and_its_defaults():
    assert MEDIA.kept((2048, 4096)) == (768, 1536) and MEDIA.kept((4000, 3000), "low") == (512, 384)
    assert MEDIA.tokens((2048, 4096)) == 85 + 170 * 6  # OpenAI's documented example
    assert MEDIA.tokens((4000, 3000), "low") == 85
    assert (MEDIA.returns_media, MEDIA.takes_video, MEDIA.display_name, MEDIA.default_max_edge) == (False, False, "OpenAI", 2048)


def test_its_tool_outputs_cannot_carry_an_original():
    assert MEDIA.original_answer("data:image/png;base64,QUJD") == NO_IMAGES
