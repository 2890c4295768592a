"""Gemini: POST …:generateContent and …:streamGenerateContent, wherever the request goes: the
Gemini API (`/v1beta/models/{model}:…`), Vertex AI (`/v1/projects/…/publishers/google/models/
{model}:…`) and Gemini CLI's Google-login endpoint (`/v1internal:…`, a wrapped body)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from addon.providers.gemini import prompt_shape, request_parser, retrieval_rounds
from addon.providers.gemini.media import GeminiMedia
from addon.providers.gemini.stream_splicer import GeminiSplicer
from addon.providers.gemini.usage_format import GeminiStreamUsage, usage_of
from addon.providers.provider import Provider
from addon.wire.json_splice import Path


class Gemini(Provider):
    name = "gemini"
    moves_front = True  # API-key traffic: implicit prefix caching rewards a stable system instruction
    answerable_rounds = True
    splices_streams = True
    media = GeminiMedia()

    def matches(self, path: str) -> bool:
        return path.endswith(":generateContent") or path.endswith(":streamGenerateContent")

    parse = staticmethod(request_parser.parse)
    opening = staticmethod(request_parser.opening)
    session_id = staticmethod(request_parser.session_id)

    def streamed(self, document: dict, path: str, query: Mapping[str, str]) -> bool:
        # Only `alt=sse` streams as events; without it the answer is one JSON array, which the
        # proxy receives whole and answers like a non-streamed response.
        return ":streamGenerateContent" in path.split("?", 1)[0] and query.get("alt") == "sse"

    def tools_of(self, document: dict) -> tuple[Path, Any]:
        base = request_parser.root(document)
        return base + ("tools",), request_parser.request_of(document).get("tools")

    blocks_retrieval = staticmethod(retrieval_rounds.blocks_retrieval)

    def is_api_key_traffic(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        return bool(headers.get("x-goog-api-key") or query.get("key"))

    prompt_units = staticmethod(prompt_shape.prompt_units)
    prompt_root = staticmethod(request_parser.root)
    front_strings = staticmethod(prompt_shape.front_strings)
    last_message_path = staticmethod(prompt_shape.last_message_path)
    note_target = staticmethod(prompt_shape.note_target)

    usage_of = staticmethod(usage_of)
    stream_usage = staticmethod(GeminiStreamUsage)

    rounds = retrieval_rounds
    splicer = staticmethod(GeminiSplicer)
