"""media_blocks: base64 images in each provider's shapes; URL images, file ids and PDFs not."""

from __future__ import annotations

from addon.media.image_blocks import media_blocks, split_data_url


def test_anthropic_user_and_tool_result_images_with_freshness():
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
    old, new = media_blocks("anthropic", body)
    assert old.data_path == ("messages", 0, "content", 0, "source", "data") and not old.fresh
    assert new.data_path == ("messages", 2, "content", 0, "content", 0, "source", "data") and new.fresh and new.in_tool_result
    assert new.list_path == ("messages", 2, "content", 0, "content") and new.type_path[-1] == "media_type"
    assert new.note_literal("n") == '{"type": "text", "text": "n"}'


def test_openai_chat_and_responses_data_urls_only():
    chat = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
    ]}]}  # fmt: skip
    [block] = media_blocks("openai_chat", chat)
    assert block.data == "QUJD" and block.detail == "low" and block.type_path is None
    assert block.data_value("WFla", "image/jpeg") == "data:image/jpeg;base64,WFla"
    responses = {"input": [
        {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/jpeg;base64,QUJD"}, {"type": "input_image", "file_id": "f1"}]},
        {"type": "function_call_output", "call_id": "c", "output": [{"type": "input_image", "image_url": "data:image/png;base64,QUJD"}]},
    ]}  # fmt: skip
    first, second = media_blocks("openai_responses", responses)
    assert first.media_type == "image/jpeg" and first.note_type == "input_text" and second.in_tool_result


def test_gemini_inline_data_in_both_spellings_and_the_cli_wrapper():
    parts = [{"inlineData": {"mimeType": "image/png", "data": "QUJD"}}, {"inline_data": {"mime_type": "video/mp4", "data": "QUJD"}}]
    body = {"request": {"contents": [{"role": "user", "parts": parts}]}}
    image, video = media_blocks("gemini", body)
    assert image.data_path == ("request", "contents", 0, "parts", 0, "inlineData", "data") and image.note_type == ""
    assert video.media_type == "video/mp4" and video.type_path[-1] == "mime_type"
    assert image.note_literal("n") == '{"text": "n"}'


def test_split_data_url():
    assert split_data_url("data:image/png;base64,QUJD") == ("image/png", "QUJD")
    assert split_data_url("data:image/png,raw") is None and split_data_url("https://x") is None
    assert media_blocks("unknown", {}) == []
