"""OpenAI Responses' usage: `input_tokens` (cached ones in `input_tokens_details`), `output_tokens`."""

from __future__ import annotations

from typing import Any

from addon.ledger.usage import EventUsage, Usage, int_field, model_in


def usage_from(usage: dict, model: str | None = None) -> Usage:
    details = usage.get("input_tokens_details")
    cached = int_field(details.get("cached_tokens")) if isinstance(details, dict) else 0
    prompt = int_field(usage.get("input_tokens"))
    return Usage(max(prompt - cached, 0), cached, 0, 0, int_field(usage.get("output_tokens")), model)


def usage_of(document: Any) -> Usage | None:
    """The usage of a whole response body (also the `response` of a WebSocket `response.completed`)."""
    if not isinstance(document, dict) or not isinstance(document.get("usage"), dict):
        return None
    return usage_from(document["usage"], model_in(document))


class ResponsesStreamUsage(EventUsage):
    """`response.completed` (or `.incomplete`/`.failed`) carries the response with its usage."""

    def see(self, document: dict) -> None:
        response = document.get("response")
        if isinstance(response, dict):
            self.model = model_in(response) or self.model
            if isinstance(response.get("usage"), dict):
                self.usage = usage_from(response["usage"], model_in(response))
