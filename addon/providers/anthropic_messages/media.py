"""Anthropic Messages' images: base64 `image` blocks in user content and inside `tool_result`
content; its price and resize (addon/media/image_tokens.py); a retrieve answer that carries the
original back as an image block, since its tool results may hold them.

Images go to 1280 px on the long edge by default: Anthropic keeps at most 1568 px and about
1.15 MP anyway, and its computer-use guide scales screenshots to XGA/WXGA (at most 1280 px
wide), the width 1x desktop UI text is drawn at, so it stays legible.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from addon.media.image_blocks import MediaBlock, user_contents
from addon.media.image_tokens import Size, anthropic_kept, anthropic_tokens
from addon.media.provider_media import ProviderMedia
from addon.wire.json_splice import Path


class AnthropicMedia(ProviderMedia):
    returns_media = True
    display_name = "Claude"
    default_max_edge = 1280

    def blocks(self, body: Any) -> list[MediaBlock]:
        return list(_blocks(body)) if isinstance(body, dict) else []

    def kept(self, size: Size, detail: str = "high") -> Size:
        return anthropic_kept(size)

    def tokens(self, size: Size, detail: str = "high") -> int:
        return anthropic_tokens(size)

    def answer(self, media_type: str, data: str) -> list[dict[str, Any]]:
        return [
            {"type": "text", "text": "The original image:"},
            {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}},
        ]


def _blocks(body: dict) -> Iterator[MediaBlock]:
    for i, content, fresh in user_contents(body):
        for j, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                for k, part in enumerate(block["content"]):
                    yield from _image(part, ("messages", i, "content", j, "content"), k, fresh, True)
            else:
                yield from _image(block, ("messages", i, "content"), j, fresh, False)


def _image(block: Any, list_path: Path, index: int, fresh: bool, in_tool: bool) -> Iterator[MediaBlock]:
    source = block.get("source") if isinstance(block, dict) and block.get("type") == "image" else None
    if isinstance(source, dict) and source.get("type") == "base64" and isinstance(source.get("data"), str):
        media_type = source.get("media_type")
        if isinstance(media_type, str):
            path = list_path + (index, "source")
            yield MediaBlock(path + ("data",), source["data"], media_type, path + ("media_type",), list_path, "text", fresh, in_tool)
