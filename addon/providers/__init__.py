"""Provider adapters, one module per API shape."""

from __future__ import annotations

from addon.providers.anthropic_messages import AnthropicMessages
from addon.providers.base import ParsedRequest, ProviderAdapter, Segment, UnknownShape
from addon.providers.gemini import Gemini
from addon.providers.openai_chat import OpenAIChat
from addon.providers.openai_responses import OpenAIResponses

ADAPTERS: tuple[ProviderAdapter, ...] = (AnthropicMessages(), OpenAIChat(), OpenAIResponses(), Gemini())

__all__ = ["ADAPTERS", "ParsedRequest", "ProviderAdapter", "Segment", "UnknownShape", "adapter_for"]


def adapter_for(path: str) -> ProviderAdapter | None:
    """The adapter that owns a request path (query string allowed), or None."""
    bare = path.split("?", 1)[0]
    for adapter in ADAPTERS:
        if adapter.matches(bare):
            return adapter
    return None
