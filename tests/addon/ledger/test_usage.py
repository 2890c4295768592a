"""Usage parsing: every provider's shape, whole bodies and streams cut into arbitrary chunks."""

from __future__ import annotations

import gzip
import json

import pytest

from addon.ledger.usage import Usage, UsageTap, parse_usage_bytes
from addon.providers import provider_named

ANTHROPIC_USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 4000,
    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    "output_tokens": 55,
}


def sse(events: list[tuple[str | None, object]]) -> bytes:
    return b"".join(((f"event: {n}\n" if n else "") + f"data: {d if isinstance(d, str) else json.dumps(d)}\n\n").encode() for n, d in events)


def tapped(provider: str, stream: bytes, size: int, encoding: str = "") -> Usage | None:
    tap = UsageTap(provider_named(provider), encoding)
    for start in range(0, len(stream), size):
        tap.feed(stream[start : start + size])
    return tap.close()


def test_anthropic_body_with_the_ttl_split():
    usage = provider_named("anthropic").usage_of({"model": "claude-opus-4-5", "usage": ANTHROPIC_USAGE})
    assert usage == Usage(12, 4000, 100, 200, 55, "claude-opus-4-5")
    assert usage.prompt_tokens == 12 + 4000 + 300 and usage.cache_write_tokens == 300


def test_anthropic_writes_without_the_split_count_as_5m():
    usage = provider_named("anthropic").usage_of({"usage": {"input_tokens": 1, "cache_creation_input_tokens": 70, "output_tokens": 2}})
    assert (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens, usage.cache_read_tokens) == (70, 0, 0)


def test_openai_chat_and_responses_and_deepseek():
    chat = provider_named("openai_chat").usage_of({"model": "gpt-4.1", "usage": {"prompt_tokens": 900, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 600}}})
    assert chat == Usage(300, 600, 0, 0, 30, "gpt-4.1")
    responses = provider_named("openai_responses").usage_of({"model": "gpt-5", "usage": {"input_tokens": 1000, "output_tokens": 9, "input_tokens_details": {"cached_tokens": 768}}})
    assert responses == Usage(232, 768, 0, 0, 9, "gpt-5")
    deepseek = provider_named("openai_chat").usage_of({"usage": {"prompt_tokens": 100, "completion_tokens": 1, "prompt_cache_hit_tokens": 64}})
    assert (deepseek.input_tokens, deepseek.cache_read_tokens) == (36, 64)


def test_gemini_body_and_json_array_stream():
    meta = {"promptTokenCount": 500, "cachedContentTokenCount": 200, "candidatesTokenCount": 40, "thoughtsTokenCount": 10}
    assert provider_named("gemini").usage_of({"modelVersion": "gemini-2.5-flash", "usageMetadata": meta}) == Usage(300, 200, 0, 0, 50, "gemini-2.5-flash")
    array = [{"candidates": []}, {"usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1}}]
    assert provider_named("gemini").usage_of(array) == Usage(5, 0, 0, 0, 1, None)
    # Gemini CLI's Google-login endpoint wraps each response: {"response": {…}, "traceId"}
    wrapped = {"response": {"modelVersion": "gemini-2.5-flash", "usageMetadata": meta}, "traceId": "t"}
    assert provider_named("gemini").usage_of(wrapped) == Usage(300, 200, 0, 0, 50, "gemini-2.5-flash")
    tap = provider_named("gemini").stream_usage()
    tap.see(wrapped)
    assert tap.usage == Usage(300, 200, 0, 0, 50, "gemini-2.5-flash")


def test_bodies_without_usage():
    assert provider_named("anthropic").usage_of({"type": "error"}) is None
    assert provider_named("gemini").usage_of([{"candidates": []}]) is None
    assert provider_named("openai_chat").usage_of(["not", "a", "dict"]) is None
    assert parse_usage_bytes(provider_named("anthropic"), b"<html>") is None


ANTHROPIC_STREAM = sse([
    ("message_start", {"type": "message_start", "message": {"model": "claude-sonnet-4-5-20250929", "usage": {**ANTHROPIC_USAGE, "output_tokens": 1}}}),
    ("ping", {"type": "ping"}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "usage is “tricky” ✂"}}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 55}}),
    ("message_stop", {"type": "message_stop"}),
])  # fmt: skip
CHAT_STREAM = sse([
    (None, {"model": "gpt-4.1", "choices": [{"delta": {"content": "hi"}}], "usage": None}),
    (None, {"model": "gpt-4.1", "choices": [], "usage": {"prompt_tokens": 900, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 600}}}),
    (None, "[DONE]"),
])  # fmt: skip
RESPONSES_STREAM = sse([
    ("response.created", {"type": "response.created", "response": {"model": "gpt-5", "usage": None}}),
    ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "x"}),
    ("response.completed", {"type": "response.completed", "response": {"model": "gpt-5", "usage": {"input_tokens": 1000, "output_tokens": 9, "input_tokens_details": {"cached_tokens": 768}}}}),
])  # fmt: skip
GEMINI_STREAM = sse([
    (None, {"candidates": [{"content": {"parts": [{"text": "a"}]}}], "usageMetadata": {"promptTokenCount": 500, "candidatesTokenCount": 1}, "modelVersion": "gemini-2.5-pro"}),
    (None, {"candidates": [{"content": {"parts": [{"text": "b"}]}}], "usageMetadata": {"promptTokenCount": 500, "cachedContentTokenCount": 200, "candidatesTokenCount": 40}, "modelVersion": "gemini-2.5-pro"}),
])  # fmt: skip


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
@pytest.mark.parametrize(
    "provider, stream, expected",
    [
        ("anthropic", ANTHROPIC_STREAM, Usage(12, 4000, 100, 200, 55, "claude-sonnet-4-5-20250929")),
        ("openai_chat", CHAT_STREAM, Usage(300, 600, 0, 0, 30, "gpt-4.1")),
        ("openai_responses", RESPONSES_STREAM, Usage(232, 768, 0, 0, 9, "gpt-5")),
        ("gemini", GEMINI_STREAM, Usage(300, 200, 0, 0, 40, "gemini-2.5-pro")),
    ],
)
def test_streams_in_any_chunking(provider, stream, expected, size):
    assert tapped(provider, stream, size) == expected


def test_anthropic_final_input_figures_in_message_delta_win():
    stream = ANTHROPIC_STREAM.replace(b'"usage": {"output_tokens": 55}', b'"usage": {"output_tokens": 55, "input_tokens": 13}')
    assert tapped("anthropic", stream, 5).input_tokens == 13


def test_chat_stream_without_the_usage_chunk_has_no_usage():
    assert tapped("openai_chat", sse([(None, {"model": "gpt-4.1", "choices": []}), (None, "[DONE]")]), 3) is None


def test_crlf_and_gzip_streams():
    assert tapped("anthropic", ANTHROPIC_STREAM.replace(b"\n", b"\r\n"), 3).output_tokens == 55
    assert tapped("anthropic", gzip.compress(ANTHROPIC_STREAM), 10, "gzip").cache_read_tokens == 4000


def test_a_broken_stream_stops_the_tap_not_the_caller():
    tap = UsageTap(provider_named("anthropic"))
    tap.feed(b"event: message_start\ndata: {not json, usage\n\n")
    assert tap.broken and tap.close() is None
    unknown = UsageTap(provider_named("anthropic"), "br")
    unknown.feed(b"\x00\x01")
    assert unknown.broken.startswith("content-encoding br") and unknown.close() is None
