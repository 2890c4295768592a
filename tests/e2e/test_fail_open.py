"""Bodies Headroom cannot or must not rewrite reach the provider byte for byte."""

from __future__ import annotations

import gzip
import json
import zlib

import anthropic
import brotli
import httpx
import pytest
import zstandard

from addon.cache.prompt_units import without_cache_control
from tests.support.bodies import anthropic_tool_turn, noisy_log

URL = "https://api.anthropic.com/v1/messages"
HEADERS = {"content-type": "application/json", "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}


def _body() -> bytes:
    return json.dumps({"model": "claude-test", "max_tokens": 16, "messages": anthropic_tool_turn(noisy_log())}).encode()


def _post(proxy, monkeypatch, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    with proxy.client_env(monkeypatch), httpx.Client(timeout=60) as client:
        return client.post(URL, content=content, headers={**HEADERS, **(headers or {})})


@pytest.mark.parametrize(
    "content, headers",
    [
        (_body()[:-40], {}),  # truncated JSON
        (_body(), {"content-type": "text/plain"}),  # wrong content type
        (_body().replace(b"card declined", b"card \xff\xfe declined"), {}),  # invalid UTF-8
        (b'{"model": "x", "messages": 42}', {}),  # JSON of an unknown shape
        (_body(), {"authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/bedrock/aws4_request"}),
    ],
    ids=["truncated-json", "wrong-content-type", "invalid-utf8", "unknown-shape", "sigv4-signed"],
)
def test_untouchable_bodies_pass_byte_for_byte(proxy, mock, monkeypatch, content, headers):
    response = _post(proxy, monkeypatch, content, headers)
    assert response.status_code in (200, 400)
    assert mock.received[-1].raw == content


def test_twenty_megabyte_body_passes_untouched(proxy, mock, monkeypatch):
    big = noisy_log(n=150_000)
    content = json.dumps({"model": "claude-test", "max_tokens": 16, "messages": anthropic_tool_turn(big)}).encode()
    assert len(content) > 20_000_000
    response = _post(proxy, monkeypatch, content)
    assert response.status_code == 200
    assert mock.received[-1].raw == content


ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_encoded_bodies_are_decoded_rewritten_and_re_encoded(proxy, mock, monkeypatch, encoding):
    raw = ENCODERS[encoding](_body())
    response = _post(proxy, monkeypatch, raw, {"content-encoding": encoding})
    assert response.status_code == 200
    seen = mock.received[-1]
    assert seen.headers["content-encoding"] == encoding
    assert int(seen.headers["content-length"]) == len(seen.raw)
    assert len(seen.body) < len(_body()) / 3  # decoded by the mock: valid and compressed
    assert "card declined" in seen.json["messages"][2]["content"][0]["content"]


def test_failing_compressor_fails_open(make_proxy, mock, monkeypatch):
    proxy = make_proxy("reroute_fail_compress=true")
    messages = anthropic_tool_turn(noisy_log())
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
        message = client.messages.create(model="claude-test", max_tokens=64, messages=messages)
    [seen] = mock.llm_requests()
    assert without_cache_control(seen.json["messages"]) == messages  # the original went out (breakpoints aside)
    assert message.content[0].text == f"mock received {len(seen.body)} bytes"
    assert "injected compressor failure" in proxy.log.read_text()
