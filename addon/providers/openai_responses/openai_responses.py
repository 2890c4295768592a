"""OpenAI Responses: POST .../responses (api.openai.com and Codex on chatgpt.com), and the
same request bodies as `response.create` messages over a WebSocket (Codex prefers it)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from addon.providers.openai_responses import prompt_shape, request_parser
from addon.providers.openai_responses.usage_format import ResponsesStreamUsage, usage_of
from addon.providers.provider import Provider, is_openai_api_key
from addon.retrieval.retrieve_tool import DESCRIPTION, SCHEMA


class OpenAIResponses(Provider):
    name = "openai_responses"
    moves_front = True
    prompt_cache_key = True
    websocket_requests = True

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

    def tool_definition(self, name: str) -> str:
        value = {"type": "function", "name": name, "description": DESCRIPTION, "parameters": SCHEMA}
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def tool_names(self, tools: object) -> set[str]:
        return {str(tool.get("name")) for tool in tools if isinstance(tool, dict)} if isinstance(tools, list) else set()
