"""One home per provider: a package each, all behind the one `Provider` interface (provider.py)."""

from __future__ import annotations

from addon.providers.anthropic_messages import AnthropicMessages
from addon.providers.gemini import Gemini
from addon.providers.openai_chat import OpenAIChat
from addon.providers.openai_responses import OpenAIResponses
from addon.providers.provider import ParsedRequest, Provider, Segment, UnknownShape

PROVIDERS: tuple[Provider, ...] = (AnthropicMessages(), OpenAIChat(), OpenAIResponses(), Gemini())
_BY_NAME = {provider.name: provider for provider in PROVIDERS}

__all__ = ["PROVIDERS", "ParsedRequest", "Provider", "Segment", "UnknownShape", "provider_for", "provider_named"]


def provider_for(path: str) -> Provider | None:
    """The provider that owns a request path (query string allowed), or None."""
    bare = path.split("?", 1)[0]
    for provider in PROVIDERS:
        if provider.matches(bare):
            return provider
    return None


def provider_named(name: str) -> Provider:
    """A provider by the name the ledger stores (KeyError for an unknown one)."""
    return _BY_NAME[name]
