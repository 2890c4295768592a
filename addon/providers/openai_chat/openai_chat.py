"""OpenAI Chat Completions (and the many OpenAI-compatible hosts): POST .../chat/completions."""

from __future__ import annotations

from collections.abc import Mapping

from addon.providers.openai_chat import prompt_shape, request_parser, retrieval_rounds
from addon.providers.openai_chat.media import OpenAIChatMedia
from addon.providers.openai_chat.stream_splicer import OpenAIChatSplicer
from addon.providers.openai_chat.usage_format import ChatStreamUsage, usage_of
from addon.providers.provider import Provider, is_openai_api_key


class OpenAIChat(Provider):
    name = "openai_chat"
    moves_front = True
    prompt_cache_key = True
    answerable_rounds = True
    splices_streams = True
    media = OpenAIChatMedia()

    def matches(self, path: str) -> bool:
        return path.rstrip("/").endswith("/chat/completions")

    parse = staticmethod(request_parser.parse)
    opening = staticmethod(request_parser.opening)

    def is_api_key_traffic(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        return is_openai_api_key(headers)

    prompt_units = staticmethod(prompt_shape.prompt_units)
    front_strings = staticmethod(prompt_shape.front_strings)
    last_message_path = staticmethod(prompt_shape.last_message_path)
    note_target = staticmethod(prompt_shape.note_target)

    usage_of = staticmethod(usage_of)
    stream_usage = staticmethod(ChatStreamUsage)

    rounds = retrieval_rounds
    splicer = staticmethod(OpenAIChatSplicer)
