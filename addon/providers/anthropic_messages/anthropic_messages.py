"""Anthropic Messages: POST /v1/messages (also with ?beta=true)."""

from __future__ import annotations

from collections.abc import Mapping

from addon.providers.anthropic_messages import cache_breakpoints, prompt_shape, request_parser, retrieval_rounds
from addon.providers.anthropic_messages.media import AnthropicMedia
from addon.providers.anthropic_messages.stream_splicer import AnthropicSplicer
from addon.providers.anthropic_messages.usage_format import AnthropicStreamUsage, usage_of
from addon.providers.provider import Provider


class AnthropicMessages(Provider):
    name = "anthropic"
    moves_front = True
    has_breakpoints = True
    answerable_rounds = True
    splices_streams = True
    media = AnthropicMedia()

    def matches(self, path: str) -> bool:
        return path.rstrip("/").endswith("/v1/messages")

    parse = staticmethod(request_parser.parse)
    opening = staticmethod(request_parser.opening)

    def is_api_key_traffic(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        return bool(headers.get("x-api-key"))  # Claude Code's subscription login sends a Bearer token

    prompt_units = staticmethod(prompt_shape.prompt_units)
    front_strings = staticmethod(prompt_shape.front_strings)
    last_message_path = staticmethod(prompt_shape.last_message_path)
    note_target = staticmethod(prompt_shape.note_target)
    place_breakpoints = staticmethod(cache_breakpoints.place)
    raise_breakpoints_to_1h = staticmethod(cache_breakpoints.raise_to_1h)

    usage_of = staticmethod(usage_of)
    stream_usage = staticmethod(AnthropicStreamUsage)

    rounds = retrieval_rounds
    splicer = staticmethod(AnthropicSplicer)
