"""Shared checks for the provider adapter tests."""

from __future__ import annotations

import json
from typing import Any

from addon.wire.json_splice import Path
from addon.providers import ParsedRequest


def at(body: Any, path: Path) -> Any:
    """The value a segment path points at, walked the way json_splice walks it."""
    for step in path:
        body = body[step]
    return body


def check_paths(body: Any, parsed: ParsedRequest) -> None:
    """Every segment's path leads to exactly its text, in the body and in a JSON round trip."""
    reloaded = json.loads(json.dumps(body))
    for segment in parsed.segments:
        assert at(body, segment.path) == segment.text
        assert at(reloaded, segment.path) == segment.text
