"""The retrieve tool's answer for a stored original image (or Gemini video), in the shape each
provider's tool results take: Anthropic's tool_result content may hold image blocks; Gemini's
answer turn may hold inlineData parts beside the functionResponse
(addon/providers/gemini/function_responses.py); OpenAI's tool outputs are text."""

from __future__ import annotations

from typing import Any

from addon.media.image_blocks import split_data_url

NO_IMAGES = "The original image cannot be returned in a tool result by this API."


def image_answer(provider: str, original: str) -> str | list[dict[str, Any]]:
    """The tool result for an original stored as a data URL."""
    found = split_data_url(original)
    if found is None:
        return "The original has expired or the id is unknown."
    media_type, data = found
    if provider == "anthropic":
        return [
            {"type": "text", "text": "The original image:"},
            {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}},
        ]
    if provider == "gemini":
        what = "video" if media_type.startswith("video/") else "image"
        return [
            {"text": f"The original {what} ({media_type}) is the inline part after this turn's function responses."},
            {"inlineData": {"mimeType": media_type, "data": data}},
        ]
    return NO_IMAGES
