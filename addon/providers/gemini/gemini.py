"""Gemini: POST .../models/{model}:generateContent and :streamGenerateContent."""

from __future__ import annotations

import json
from collections.abc import Mapping

from addon.providers.gemini import prompt_shape, request_parser
from addon.providers.gemini.usage_format import GeminiStreamUsage, usage_of
from addon.providers.provider import Provider
from addon.retrieval.retrieve_tool import DESCRIPTION, SCHEMA


class Gemini(Provider):
    name = "gemini"

    def matches(self, path: str) -> bool:
        return path.endswith(":generateContent") or path.endswith(":streamGenerateContent")

    parse = staticmethod(request_parser.parse)
    opening = staticmethod(request_parser.opening)

    def is_api_key_traffic(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        return bool(headers.get("x-goog-api-key") or query.get("key"))

    prompt_units = staticmethod(prompt_shape.prompt_units)

    usage_of = staticmethod(usage_of)
    stream_usage = staticmethod(GeminiStreamUsage)

    def tool_definition(self, name: str) -> str:
        value = {"functionDeclarations": [{"name": name, "description": DESCRIPTION, "parameters": SCHEMA}]}
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def tool_names(self, tools: object) -> set[str]:
        names: set[str] = set()
        for tool in tools if isinstance(tools, list) else []:
            for declaration in (tool.get("functionDeclarations") or []) if isinstance(tool, dict) else []:
                if isinstance(declaration, dict):
                    names.add(str(declaration.get("name")))
        return names
