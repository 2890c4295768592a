"""OpenAI Chat's usage: `prompt_tokens` (cached ones in `prompt_tokens_details`), `completion_tokens`."""

from __future__ import annotations

from typing import Any

from addon.ledger.usage import EventUsage, Usage, int_field, model_in


def usage_from(usage: dict, model: str | None = None) -> Usage:
    details = usage.get("prompt_tokens_details")
    cached = int_field(details.get("cached_tokens")) if isinstance(details, dict) else 0
    cached = cached or int_field(usage.get("prompt_cache_hit_tokens"))  # DeepSeek's name for it
    prompt = int_field(usage.get("prompt_tokens"))
    return Usage(max(prompt - cached, 0), cached, 0, 0, int_field(usage.get("completion_tokens")), model)


def usage_of(document: Any) -> Usage | None:
    """The usage of a whole response body."""
    if not isinstance(document, dict) or not isinstance(document.get("usage"), dict):
        return None
    return usage_from(document["usage"], model_in(document))


class ChatStreamUsage(EventUsage):
    """The usage chunk sent last when the client asked for `stream_options.include_usage`."""

    def see(self, document: dict) -> None:
        self.model = self.model or model_in(document)
        if isinstance(document.get("usage"), dict):
            self.usage = usage_from(document["usage"], model_in(document))
