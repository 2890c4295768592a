"""Where the images of a request body are, for each provider's shapes: base64 image blocks in
user content and tool results (the only images Headroom may make smaller); URL images, file
ids and PDFs are not listed, so they pass untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from addon.providers.gemini.request_parser import root as gemini_root
from addon.providers.openai_responses.request_parser import _is_model_item as responses_model_item
from addon.providers.provider import last_index
from addon.wire.json_splice import Path

DATA_URL_HEAD = "data:"


@dataclass(frozen=True)
class MediaBlock:
    """One base64 image (or video) in a body, and how to write a smaller one in its place."""

    data_path: Path  # the string holding the base64 data, or a data URL that holds it
    data: str  # the base64 payload alone
    media_type: str
    type_path: Path | None  # a separate media-type string to rewrite (None: inside the data URL)
    list_path: Path  # the list a note beside it goes into
    note_type: str  # the type of a text part in that list ("" for Gemini's untyped parts)
    fresh: bool  # after the model's last turn: the provider has not seen it yet
    in_tool_result: bool
    detail: str = "high"  # OpenAI's detail setting

    def data_value(self, data: str, media_type: str) -> str:
        """What goes at `data_path` for new base64 data."""
        return f"data:{media_type};base64,{data}" if self.type_path is None else data

    def note_literal(self, note: str) -> str:
        """A text part holding `note`, as JSON, for `list_path`."""
        part = {"type": self.note_type, "text": note} if self.note_type else {"text": note}
        return json.dumps(part, ensure_ascii=False)


def media_blocks(provider: str, body: Any) -> list[MediaBlock]:
    """Every base64 image or video block of a body in the given provider's shapes."""
    finder = _FINDERS.get(provider)
    return list(finder(body)) if finder is not None and isinstance(body, dict) else []


def split_data_url(url: Any) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL, else None."""
    if not isinstance(url, str) or not url.startswith(DATA_URL_HEAD):
        return None
    head, comma, data = url.partition(",")
    if not comma or not head.endswith(";base64"):
        return None
    return head[len(DATA_URL_HEAD) : -len(";base64")].split(";")[0], data


def _user_contents(body: dict) -> Iterator[tuple[int, list, bool]]:
    """(index, content list, fresh) of each user message with list content (Anthropic, Chat)."""
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    boundary = last_index(messages, lambda m: isinstance(m, dict) and m.get("role") == "assistant")
    for i, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), list):
            yield i, message["content"], i > boundary


def _anthropic(body: dict) -> Iterator[MediaBlock]:
    for i, content, fresh in _user_contents(body):
        for j, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                for k, part in enumerate(block["content"]):
                    yield from _anthropic_image(part, ("messages", i, "content", j, "content"), k, fresh, True)
            else:
                yield from _anthropic_image(block, ("messages", i, "content"), j, fresh, False)


def _anthropic_image(block: Any, list_path: Path, index: int, fresh: bool, in_tool: bool) -> Iterator[MediaBlock]:
    source = block.get("source") if isinstance(block, dict) and block.get("type") == "image" else None
    if isinstance(source, dict) and source.get("type") == "base64" and isinstance(source.get("data"), str):
        media_type = source.get("media_type")
        if isinstance(media_type, str):
            path = list_path + (index, "source")
            yield MediaBlock(path + ("data",), source["data"], media_type, path + ("media_type",), list_path, "text", fresh, in_tool)


def _openai_chat(body: dict) -> Iterator[MediaBlock]:
    for i, content, fresh in _user_contents(body):
        for j, part in enumerate(content):
            image = part.get("image_url") if isinstance(part, dict) and part.get("type") == "image_url" else None
            found = split_data_url(image.get("url")) if isinstance(image, dict) else None
            if found is not None:
                detail = str(image.get("detail") or "high")  # type: ignore[union-attr]
                path = ("messages", i, "content")
                yield MediaBlock(path + (j, "image_url", "url"), found[1], found[0], None, path, "text", fresh, False, detail)


def _openai_responses(body: dict) -> Iterator[MediaBlock]:
    items = body.get("input") if isinstance(body.get("input"), list) else []
    boundary = last_index(items, responses_model_item)
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


def _gemini(body: dict) -> Iterator[MediaBlock]:
    base = gemini_root(body)
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


_FINDERS = {"anthropic": _anthropic, "openai_chat": _openai_chat, "openai_responses": _openai_responses, "gemini": _gemini}
