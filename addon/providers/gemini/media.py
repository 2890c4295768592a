"""Gemini's images and inline videos: `inlineData`/`inline_data` parts of user turns (either key
spelling, inside Gemini CLI's wrapper too); its tile price (addon/media/image_tokens.py), on the
image whole; a retrieve answer that carries the original back as an inlineData part beside the
functionResponse (addon/providers/gemini/function_responses.py). Its videos are decided as
their frames (addon/media/video_decisions.py).

Images go to 1536 px on the long edge by default: Gemini bills every 768-px tile (258 tokens),
and 1536 px is two tiles' width, the WXGA-class size where 1x UI text stays legible (3000×2000
goes from 12 tiles to 4).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from addon.media.image_blocks import MediaBlock
from addon.media.image_tokens import Size, gemini_tokens, gemini_video_tokens
from addon.media.provider_media import ProviderMedia
from addon.providers.gemini.request_parser import root
from addon.providers.provider import last_index


class GeminiMedia(ProviderMedia):
    returns_media = True
    takes_video = True
    display_name = "Gemini"
    default_max_edge = 1536

    def blocks(self, body: Any) -> list[MediaBlock]:
        return list(_blocks(body)) if isinstance(body, dict) else []

    # kept: the image whole (Gemini tiles it, never resizes it)

    def tokens(self, size: Size, detail: str = "high") -> int:
        return gemini_tokens(size)

    def video_tokens(self, seconds: float, has_audio: bool) -> int:
        return gemini_video_tokens(seconds, has_audio)

    def answer(self, media_type: str, data: str) -> list[dict[str, Any]]:
        what = "video" if media_type.startswith("video/") else "image"
        return [
            {"text": f"The original {what} ({media_type}) is the inline part after this turn's function responses."},
            {"inlineData": {"mimeType": media_type, "data": data}},
        ]


def _blocks(body: dict) -> Iterator[MediaBlock]:
    base = root(body)
    request = body["request"] if base else body
    contents = request.get("contents") if isinstance(request.get("contents"), list) else []
    boundary = last_index(contents, lambda c: isinstance(c, dict) and c.get("role") == "model")
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or content.get("role") == "model" or not isinstance(content.get("parts"), list):
            continue
        for j, part in enumerate(content["parts"]):
            key = "inlineData" if isinstance(part, dict) and "inlineData" in part else "inline_data"
            inline = part.get(key) if isinstance(part, dict) else None
            if not isinstance(inline, dict) or not isinstance(inline.get("data"), str):
                continue
            type_key = "mimeType" if "mimeType" in inline else "mime_type"
            if isinstance(inline.get(type_key), str):
                path = base + ("contents", i, "parts")
                yield MediaBlock(path + (j, key, "data"), inline["data"], inline[type_key], path + (j, key, type_key), path, "", i > boundary, False)
