"""OpenAI Responses' images: `input_image` parts that hold a base64 data URL (with their
`detail`), in user messages and in `function_call_output` lists; OpenAI's price and resize
(addon/media/image_tokens.py).

Its tool outputs cannot carry an original back to the model, so its images go no smaller than
OpenAI keeps (fit 2048, then a 768-px short side); the default edge only bounds that.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from addon.media.image_blocks import MediaBlock, split_data_url
from addon.providers.openai_chat.media import OpenAIChatMedia
from addon.providers.openai_responses.request_parser import is_model_item
from addon.providers.provider import last_index


class OpenAIResponsesMedia(OpenAIChatMedia):
    """OpenAI's prices, sizes and defaults (as Chat's); its own shapes."""

    def blocks(self, body: Any) -> list[MediaBlock]:
        return list(_blocks(body)) if isinstance(body, dict) else []


def _blocks(body: dict) -> Iterator[MediaBlock]:
    items = body.get("input") if isinstance(body.get("input"), list) else []
    boundary = last_index(items, is_model_item)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        if item.get("role") == "user" and isinstance(item.get("content"), list):
            list_path, parts, in_tool = ("input", i, "content"), item["content"], False
        elif item.get("type") == "function_call_output" and isinstance(item.get("output"), list):
            list_path, parts, in_tool = ("input", i, "output"), item["output"], True
        else:
            continue
        for j, part in enumerate(parts):
            found = split_data_url(part.get("image_url")) if isinstance(part, dict) and part.get("type") == "input_image" else None
            if found is not None:
                detail = str(part.get("detail") or "high")
                yield MediaBlock(list_path + (j, "image_url"), found[1], found[0], None, list_path, "input_text", i > boundary, in_tool, detail)
