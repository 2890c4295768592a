"""OpenAI Responses: POST .../responses (api.openai.com and Codex on chatgpt.com), and the
same request bodies as `response.create` messages over a WebSocket (Codex prefers it)."""

from __future__ import annotations

from collections.abc import Mapping

from addon.providers.openai_responses import prompt_shape, request_parser, retrieval_rounds
from addon.providers.openai_responses.media import OpenAIResponsesMedia
from addon.providers.openai_responses.stream_splicer import OpenAIResponsesSplicer
from addon.providers.openai_responses.usage_format import ResponsesStreamUsage, usage_of
from addon.providers.provider import Provider, is_openai_api_key


class OpenAIResponses(Provider):
    name = "openai_responses"
    moves_front = True
    prompt_cache_key = True
    websocket_requests = True
    answerable_rounds = True
    splices_streams = True
    chains_requests = True
    media = OpenAIResponsesMedia()

    def matches(self, path: str) -> bool:
        return path.rstrip("/").endswith("/responses")

    parse = staticmethod(request_parser.parse)
    opening = staticmethod(request_parser.opening)

    def is_api_key_traffic(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        return is_openai_api_key(headers)

    prompt_units = staticmethod(prompt_shape.prompt_units)
    front_strings = staticmethod(prompt_shape.front_strings)
    last_message_path = staticmethod(prompt_shape.last_message_path)
    note_target = staticmethod(prompt_shape.note_target)

    usage_of = staticmethod(usage_of)
    stream_usage = staticmethod(ResponsesStreamUsage)

    rounds = retrieval_rounds
    splicer = staticmethod(OpenAIResponsesSplicer)
