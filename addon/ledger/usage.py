"""What a response says was billed: its usage, from a JSON body or tapped from a stream of events.

Pure (no I/O, no mitmproxy). Every provider's usage is normalised into one `Usage`, whose input
figures do not overlap: `input_tokens` are the prompt tokens billed at the plain input price,
cache reads and writes are counted apart. So the prompt is always the sum of the four.

| API | fresh input | cache read | cache write | output |
|---|---|---|---|---|
| Anthropic | `input_tokens` | `cache_read_input_tokens` | `cache_creation_input_tokens` (5m/1h from `cache_creation`) | `output_tokens` |
| OpenAI Chat | `prompt_tokens` − cached | `prompt_tokens_details.cached_tokens` | – | `completion_tokens` |
| OpenAI Responses | `input_tokens` − cached | `input_tokens_details.cached_tokens` | – | `output_tokens` |
| Gemini | `promptTokenCount` − cached | `cachedContentTokenCount` | – | `candidatesTokenCount` + `thoughtsTokenCount` |
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, replace
from typing import Any

from addon.wire.sse_events import SseEvent, SseParser

PROVIDERS = ("anthropic", "openai_chat", "openai_responses", "gemini")


@dataclass(frozen=True)
class Usage:
    """Tokens one response was billed for, by price class."""

    input_tokens: int = 0  # prompt tokens at the plain input price
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    model: str | None = None

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def prompt_tokens(self) -> int:
        """The whole prompt: fresh input, cache reads and cache writes."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _model(document: dict) -> str | None:
    model = document.get("model") or document.get("modelVersion")
    return model if isinstance(model, str) else None


def anthropic_usage(usage: dict, model: str | None = None) -> Usage:
    """Anthropic's usage object. Without the `cache_creation` split, every write counts as 5m."""
    written = _int(usage.get("cache_creation_input_tokens"))
    split = usage.get("cache_creation")
    if isinstance(split, dict) and ("ephemeral_5m_input_tokens" in split or "ephemeral_1h_input_tokens" in split):
        w5, w1 = _int(split.get("ephemeral_5m_input_tokens")), _int(split.get("ephemeral_1h_input_tokens"))
    else:
        w5, w1 = written, 0
    return Usage(_int(usage.get("input_tokens")), _int(usage.get("cache_read_input_tokens")), w5, w1, _int(usage.get("output_tokens")), model)


def openai_chat_usage(usage: dict, model: str | None = None) -> Usage:
    details = usage.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    cached = cached or _int(usage.get("prompt_cache_hit_tokens"))  # DeepSeek's name for it
    prompt = _int(usage.get("prompt_tokens"))
    return Usage(max(prompt - cached, 0), cached, 0, 0, _int(usage.get("completion_tokens")), model)


def openai_responses_usage(usage: dict, model: str | None = None) -> Usage:
    details = usage.get("input_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    prompt = _int(usage.get("input_tokens"))
    return Usage(max(prompt - cached, 0), cached, 0, 0, _int(usage.get("output_tokens")), model)


def gemini_usage(metadata: dict, model: str | None = None) -> Usage:
    cached = _int(metadata.get("cachedContentTokenCount"))
    prompt = _int(metadata.get("promptTokenCount"))
    output = _int(metadata.get("candidatesTokenCount")) + _int(metadata.get("thoughtsTokenCount"))
    return Usage(max(prompt - cached, 0), cached, 0, 0, output, model)


def parse_usage(provider: str, document: Any) -> Usage | None:
    """The usage of a whole (non-streamed) response body, or None when it carries none."""
    if provider == "gemini":
        # streamGenerateContent without alt=sse answers with a JSON array of chunks: the last
        # chunk that carries usageMetadata has the totals.
        chunks = document if isinstance(document, list) else [document]
        for chunk in reversed(chunks):
            if isinstance(chunk, dict) and isinstance(chunk.get("usageMetadata"), dict):
                return gemini_usage(chunk["usageMetadata"], _model(chunk))
        return None
    if not isinstance(document, dict) or not isinstance(document.get("usage"), dict):
        return None
    usage, model = document["usage"], _model(document)
    if provider == "anthropic":
        return anthropic_usage(usage, model)
    if provider == "openai_chat":
        return openai_chat_usage(usage, model)
    if provider == "openai_responses":
        return openai_responses_usage(usage, model)
    return None


def parse_usage_bytes(provider: str, body: bytes) -> Usage | None:
    """`parse_usage` of a body's bytes; None for bodies that are not JSON."""
    try:
        return parse_usage(provider, json.loads(body))
    except (ValueError, UnicodeDecodeError):
        return None


class UsageTap:
    """Reads usage out of a server-sent event stream as its chunks go by.

    `feed` never raises and never changes the bytes (it only looks). Anthropic: `message_start`
    holds the input figures, `message_delta` the final output count (and, on newer API versions,
    final input figures too). OpenAI Chat: the usage chunk sent last when the client asked for
    `stream_options.include_usage`. Responses: `response.completed` (or `.incomplete`/`.failed`).
    Gemini: the last chunk's `usageMetadata`.
    """

    def __init__(self, provider: str, content_encoding: str = "") -> None:
        self.provider = provider
        self.usage: Usage | None = None
        self.model: str | None = None
        self.broken: str | None = None  # why tapping stopped (the stream itself is unaffected)
        self._parser = SseParser()
        self._anthropic_fields: dict = {}  # message_start usage, updated by message_delta
        encoding = content_encoding.strip().lower()
        self._decoder = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, auto
        elif encoding not in ("", "identity"):
            self.broken = f"content-encoding {encoding} is not tapped"

    def feed(self, chunk: bytes) -> None:
        """Look at the next chunk of the stream."""
        if self.broken or not chunk:
            return
        try:
            data = self._decoder.decompress(chunk) if self._decoder else chunk
            for event in self._parser.feed(data):
                self._see(event)
        except Exception as e:  # a tap must never break the stream it watches
            self.broken = f"{type(e).__name__}: {e}"

    def close(self) -> Usage | None:
        """The stream ended: the usage it reported, or None."""
        if not self.broken:
            try:
                for event in self._parser.close():
                    self._see(event)
            except Exception as e:
                self.broken = f"{type(e).__name__}: {e}"
        if self.usage is not None and self.usage.model is None and self.model:
            self.usage = replace(self.usage, model=self.model)
        return self.usage

    def _see(self, event: SseEvent) -> None:
        data = event.data
        # Only the few events that carry usage are parsed; text deltas are skipped unread.
        if not data or data == "[DONE]" or ("usage" not in data and "Usage" not in data and "model" not in data):
            return
        if self.provider == "anthropic" and event.event not in (None, "message_start", "message_delta"):
            return
        document = json.loads(data)
        if not isinstance(document, dict):
            return
        if self.provider == "anthropic":
            self._anthropic(document)
        elif self.provider == "openai_chat":
            self.model = self.model or _model(document)
            if isinstance(document.get("usage"), dict):
                self.usage = openai_chat_usage(document["usage"], _model(document))
        elif self.provider == "openai_responses":
            response = document.get("response")
            if isinstance(response, dict):
                self.model = _model(response) or self.model
                if isinstance(response.get("usage"), dict):
                    self.usage = openai_responses_usage(response["usage"], _model(response))
        elif self.provider == "gemini" and isinstance(document.get("usageMetadata"), dict):
            self.usage = gemini_usage(document["usageMetadata"], _model(document))

    def _anthropic(self, document: dict) -> None:
        kind = document.get("type")
        if kind == "message_start" and isinstance(document.get("message"), dict):
            message = document["message"]
            self.model = _model(message)
            self._anthropic_fields = dict(message.get("usage") or {})
        elif kind == "message_delta" and isinstance(document.get("usage"), dict):
            self._anthropic_fields.update({k: v for k, v in document["usage"].items() if v is not None})
        else:
            return
        self.usage = anthropic_usage(self._anthropic_fields, self.model)
