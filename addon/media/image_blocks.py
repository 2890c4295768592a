"""An image (or video) found in a request body, and what finding one takes in any API's shapes.

Each provider's media (addon/providers/<provider>/media.py) lists the base64 image blocks of
its user content and tool results: the only images Headroom may make smaller. URL images, file
ids and PDFs are not listed, so they pass untouched.

Imports nothing from addon.providers: the providers' media modules import this one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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


def split_data_url(url: Any) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL, else None."""
    if not isinstance(url, str) or not url.startswith(DATA_URL_HEAD):
        return None
    head, comma, data = url.partition(",")
    if not comma or not head.endswith(";base64"):
        return None
    return head[len(DATA_URL_HEAD) : -len(";base64")].split(";")[0], data


def user_contents(body: dict) -> Iterator[tuple[int, list, bool]]:
    """(index, content list, fresh) of each user message with list content (Anthropic, Chat)."""
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    boundary = max((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"), default=-1)
    for i, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), list):
            yield i, message["content"], i > boundary
