"""AnthropicMedia: base64 image blocks (in tool results too), Anthropic's price, and a retrieve
answer that carries the original back as an image block."""

from __future__ import annotations

from addon.media.image_tokens import anthropic_kept
from addon.providers.anthropic_messages import AnthropicMessages

MEDIA = AnthropicMessages().media


def test_user_and_tool_result_images_with_freshness():
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}}
    body = {
        "messages": [
            {"role": "user", "content": [image, {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "screenshot", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [image]},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "QUJD"}},
            ]},
        ]
    }  # fmt: skip
    old, new = MEDIA.blocks(body)
    assert old.data_path == ("messages", 0, "content", 0, "source", "data") and not old.fresh
    assert new.data_path == ("messages", 2, "content", 0, "content", 0, "source", "data") and new.fresh and new.in_tool_result
    assert new.list_path == ("messages", 2, "content", 0, "content") and new.type_path[-1] == "media_type"
    assert new.note_literal("n") == '{"type": "text", "text": "n"}'
    assert MEDIA.blocks([image]) == []


def test_its_price_its_size_and_its_defaults():
    w, h = anthropic_kept((3000, 2000))
    assert MEDIA.kept((3000, 2000)) == (w, h) and MEDIA.kept((1000, 800)) == (1000, 800)
    assert MEDIA.tokens((1000, 750)) == 1000  # w*h/750
    assert MEDIA.tokens((3000, 2000)) == MEDIA.tokens((w, h)) <= 1534
    assert (MEDIA.returns_media, MEDIA.takes_video, MEDIA.display_name, MEDIA.default_max_edge) == (True, False, "Claude", 1280)


def test_the_original_goes_back_as_an_image_block():
    text, image = MEDIA.original_answer("data:image/png;base64,QUJD")
    assert text == {"type": "text", "text": "The original image:"}
    assert image == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}}
    assert "expired" in MEDIA.original_answer("not a data url")
