"""Anthropic's usage: `input_tokens`, cache reads and writes (5m/1h), `output_tokens`."""

from __future__ import annotations

from typing import Any

from addon.ledger.usage import Usage, int_field, model_in


def usage_from(usage: dict, model: str | None = None) -> Usage:
    """Anthropic's usage object. Without the `cache_creation` split, every write counts as 5m."""
    written = int_field(usage.get("cache_creation_input_tokens"))
    split = usage.get("cache_creation")
    if isinstance(split, dict) and ("ephemeral_5m_input_tokens" in split or "ephemeral_1h_input_tokens" in split):
        w5, w1 = int_field(split.get("ephemeral_5m_input_tokens")), int_field(split.get("ephemeral_1h_input_tokens"))
    else:
        w5, w1 = written, 0
    return Usage(int_field(usage.get("input_tokens")), int_field(usage.get("cache_read_input_tokens")), w5, w1, int_field(usage.get("output_tokens")), model)


def usage_of(document: Any) -> Usage | None:
    """The usage of a whole response body."""
    if not isinstance(document, dict) or not isinstance(document.get("usage"), dict):
        return None
    return usage_from(document["usage"], model_in(document))


class AnthropicStreamUsage:
    """`message_start` holds the input figures, `message_delta` the final output count (and,
    on newer API versions, final input figures too)."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.model: str | None = None
        self._fields: dict = {}  # message_start usage, updated by message_delta

    def wants(self, event: str | None) -> bool:
        return event in (None, "message_start", "message_delta")

    def see(self, document: dict) -> None:
        kind = document.get("type")
        if kind == "message_start" and isinstance(document.get("message"), dict):
            message = document["message"]
            self.model = model_in(message)
            self._fields = dict(message.get("usage") or {})
        elif kind == "message_delta" and isinstance(document.get("usage"), dict):
            self._fields.update({k: v for k, v in document["usage"].items() if v is not None})
        else:
            return
        self.usage = usage_from(self._fields, self.model)
