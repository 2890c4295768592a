"""provider_for (addon/providers/__init__.py): the request path picks the adapter."""

from __future__ import annotations

import pytest

from addon.providers import provider_for


@pytest.mark.parametrize(
    "path, name",
    [
        ("/v1/messages", "anthropic"),
        ("/v1/messages?beta=true", "anthropic"),
        ("/v1/chat/completions", "openai_chat"),
        ("/openai/v1/chat/completions", "openai_chat"),  # Groq
        ("/api/v1/chat/completions?x=1", "openai_chat"),  # OpenRouter
        ("/v1/responses", "openai_responses"),
        ("/backend-api/codex/responses", "openai_responses"),
        ("/v1beta/models/gemini-2.5-pro:generateContent", "gemini"),
        ("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini"),
    ],
)
def test_known_paths(path: str, name: str) -> None:
    adapter = provider_for(path)
    assert adapter is not None and adapter.name == name


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v1/models",
        "/v1/embeddings",
        "/v1/messages/count_tokens",
        "/v1/messages/batches",
        "/v1/responses/resp_123",
        "/v1beta/models/gemini-2.5-pro:countTokens",
        "/search?q=/v1/messages",  # only the path before the query string counts
    ],
)
def test_unknown_paths(path: str) -> None:
    assert provider_for(path) is None
