"""OpenAI Chat's images: `image_url` parts of user messages that hold a base64 data URL (with
their `detail`); OpenAI's price and resize (addon/media/image_tokens.py).

Its tool outputs are text: a retrieve answer cannot carry an original back, so its images go
no smaller than OpenAI keeps (fit 2048, then a 768-px short side); the default edge only
bounds that.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from addon.media.image_blocks import MediaBlock, split_data_url, user_contents
from addon.media.image_tokens import OPENAI_FIT, Size, openai_kept, openai_tokens
from addon.media.provider_media import ProviderMedia


class OpenAIChatMedia(ProviderMedia):
    display_name = "OpenAI"
    default_max_edge = OPENAI_FIT

    def blocks(self, body: Any) -> list[MediaBlock]:
        return list(_blocks(body)) if isinstance(body, dict) else []

    def kept(self, size: Size, detail: str = "high") -> Size:
        return openai_kept(size, detail)

    def tokens(self, size: Size, detail: str = "high") -> int:
        return openai_tokens(size, detail)


def _blocks(body: dict) -> Iterator[MediaBlock]:
    for i, content, fresh in user_contents(body):
        for j, part in enumerate(content):
            image = part.get("image_url") if isinstance(part, dict) and part.get("type") == "image_url" else None
            found = split_data_url(image.get("url")) if isinstance(image, dict) else None
            if found is not None:
                detail = str(image.get("detail") or "high")  # type: ignore[union-attr]
                path = ("messages", i, "content")
                yield MediaBlock(path + (j, "image_url", "url"), found[1], found[0], None, path, "text", fresh, False, detail)
