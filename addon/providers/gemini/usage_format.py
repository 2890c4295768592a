"""Gemini's usage: `usageMetadata` (`promptTokenCount`, `cachedContentTokenCount`, candidates and thoughts)."""

from __future__ import annotations

from typing import Any

from addon.ledger.usage import EventUsage, Usage, int_field, model_in


def usage_from(metadata: dict, model: str | None = None) -> Usage:
    cached = int_field(metadata.get("cachedContentTokenCount"))  # part of promptTokenCount
    prompt = int_field(metadata.get("promptTokenCount"))
    output = int_field(metadata.get("candidatesTokenCount")) + int_field(metadata.get("thoughtsTokenCount"))
    return Usage(max(prompt - cached, 0), cached, 0, 0, output, model)


def unwrapped(chunk: Any) -> Any:
    """Gemini CLI's Google-login endpoint wraps each response: `{"response": {…}, "traceId"}`."""
    if isinstance(chunk, dict) and "candidates" not in chunk and isinstance(chunk.get("response"), dict):
        return chunk["response"]
    return chunk


def usage_of(document: Any) -> Usage | None:
    """streamGenerateContent without alt=sse answers with a JSON array of chunks: the last chunk
    that carries usageMetadata has the totals."""
    chunks = document if isinstance(document, list) else [document]
    for chunk in map(unwrapped, reversed(chunks)):
        if isinstance(chunk, dict) and isinstance(chunk.get("usageMetadata"), dict):
            return usage_from(chunk["usageMetadata"], model_in(chunk))
    return None


class GeminiStreamUsage(EventUsage):
    """Every chunk may carry `usageMetadata`; the last one has the totals."""

    def see(self, document: dict) -> None:
        document = unwrapped(document)
        if isinstance(document.get("usageMetadata"), dict):
            self.usage = usage_from(document["usageMetadata"], model_in(document))
