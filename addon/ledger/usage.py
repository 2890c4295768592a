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
from typing import TYPE_CHECKING, Any, Protocol

from addon.wire.sse_events import SseEvent, SseParser

if TYPE_CHECKING:
    from addon.providers.provider import Provider


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


def int_field(value: Any) -> int:
    """A usage figure, 0 where it is missing or not a whole number."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def model_in(document: dict) -> str | None:
    """The model a response names."""
    model = document.get("model") or document.get("modelVersion")
    return model if isinstance(model, str) else None


class StreamUsage(Protocol):
    """One provider's reader of the usage in one stream of events (see each provider's usage_format.py)."""

    usage: Usage | None
    model: str | None

    def wants(self, event: str | None) -> bool:
        """Whether an event of this name can carry usage (others are skipped unparsed)."""

    def see(self, document: dict) -> None:
        """Take what one event's parsed data says."""


class EventUsage:
    """The base of the simpler readers: usage and model so far; every event name may carry it."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.model: str | None = None

    def wants(self, event: str | None) -> bool:
        return True


def parse_usage_bytes(provider: Provider, body: bytes) -> Usage | None:
    """The usage of a response body's bytes; None for bodies that are not JSON."""
    try:
        return provider.usage_of(json.loads(body))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


class UsageTap:
    """Reads usage out of a server-sent event stream as its chunks go by.

    `feed` never raises and never changes the bytes (it only looks). Which events carry usage,
    and how, is the provider's `stream_usage()` reader's business: Anthropic's `message_start`
    and `message_delta`, OpenAI Chat's last usage chunk (with `stream_options.include_usage`),
    Responses' `response.completed`, Gemini's last chunk's `usageMetadata`.
    """

    def __init__(self, provider: Provider, content_encoding: str = "") -> None:
        self.reader = provider.stream_usage()
        self.usage: Usage | None = None
        self.broken: str | None = None  # why tapping stopped (the stream itself is unaffected)
        self._parser = SseParser()
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
        usage, model = self.reader.usage, self.reader.model
        if usage is not None and usage.model is None and model:
            usage = replace(usage, model=model)
        self.usage = usage
        return usage

    def _see(self, event: SseEvent) -> None:
        data = event.data
        # Only the few events that carry usage are parsed; text deltas are skipped unread.
        if not data or data == "[DONE]" or ("usage" not in data and "Usage" not in data and "model" not in data):
            return
        if not self.reader.wants(event.event):
            return
        document = json.loads(data)
        if isinstance(document, dict):
            self.reader.see(document)
