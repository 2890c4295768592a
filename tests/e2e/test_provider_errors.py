"""Provider answers reach the client as the provider sent them, on the paths the proxy answers
itself: status, reason and every header (rate limits, retry hints, request ids), with only the
framing recomputed."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from tests.e2e.test_retrieval import anthropic_messages, streamed_retrieving_model, verbose_pytest
from tests.support.mock_provider import Received, Reply

LIMITS = {
    "anthropic-ratelimit-requests-remaining": "41",
    "anthropic-ratelimit-tokens-reset": "2026-12-07T09:00:00Z",
    "request-id": "req_mock_123",
    "x-should-retry": "false",
    "retry-after": "17",
}


def streamed_body() -> dict:
    # a folded tool output: the request carries the retrieve tool, so its stream goes through the responder
    return {"model": "claude-test", "max_tokens": 64, "stream": True, "messages": anthropic_messages(verbose_pytest())}


def post(proxy, body: dict) -> httpx.Response:
    import ssl

    verify = ssl.create_default_context(cafile=str(proxy.ca.cert))
    headers = {"x-api-key": "sk-ant-owner-a", "anthropic-version": "2023-06-01"}
    with httpx.Client(proxy=proxy.url, verify=verify, timeout=30) as client:
        return client.post("https://api.anthropic.com/v1/messages", json=body, headers=headers)


@pytest.mark.parametrize("status", [529, 429, 500])
def test_a_provider_error_on_a_streamed_request_reaches_the_client_unchanged(proxy, mock, status):
    error = {"type": "error", "error": {"type": "overloaded_error" if status == 529 else "rate_limit_error", "message": "try later"}}
    mock.responder = lambda request: Reply(status, error, headers=LIMITS)
    reply = post(proxy, streamed_body())
    [sent] = mock.llm_requests()
    assert "headroom_retrieve" in json.dumps(sent.json["tools"])  # it went the responder's way
    assert reply.status_code == status and reply.json() == error
    for name, value in LIMITS.items():
        assert reply.headers.get(name) == value, name
    assert reply.reason_phrase == {529: "", 429: "Too Many Requests", 500: "Internal Server Error"}[status]  # the provider's


def test_a_streamed_answer_keeps_the_providers_headers(proxy, mock):
    script = streamed_retrieving_model("toolu_h1", "Looking.", "found it")

    def respond(request: Received) -> Reply | None:
        reply = script(request)
        reply.headers = dict(LIMITS)
        return reply

    mock.responder = respond
    reply = post(proxy, streamed_body())
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    for name, value in LIMITS.items():
        assert reply.headers.get(name) == value, name
    assert len(mock.llm_requests()) == 2  # the retrieval round happened


def test_the_sdk_does_not_retry_what_the_provider_said_not_to(proxy, mock, monkeypatch):
    """`x-should-retry: false` on a 529: the SDK gives up at once instead of retrying."""
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "overloaded"}}
    mock.responder = lambda request: Reply(529, error, headers={"x-should-retry": "false"})
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-owner-a", max_retries=2)
        with pytest.raises(anthropic.APIStatusError):
            with client.messages.stream(model="claude-test", max_tokens=64, messages=anthropic_messages(verbose_pytest())) as stream:
                list(stream)
    assert len(mock.llm_requests()) == 1
