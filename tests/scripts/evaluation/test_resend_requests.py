"""resend_requests: both sides prepared alike: non-streamed, capped, temperature 0, credentials."""

from __future__ import annotations

import json

import pytest

from scripts.evaluation.recorded_flows import RecordedRequest
from scripts.evaluation.resend_requests import CannotResend, ResendSettings, build_pair, prepared_body, resend_url


def recorded(provider: str, url: str, body: dict, headers: tuple = (("x-api-key", "sk-ant-1"),), forwarded: dict | None = None) -> RecordedRequest:
    return RecordedRequest("f1", provider, url, False, (("content-length", "9"), ("host", "x"), *headers), json.dumps(body).encode(),
                           json.dumps(forwarded or body).encode(), ("test",), ("Bash",), "headroom_retrieve", True)  # fmt: skip


def test_anthropic_streamed_request_is_sent_whole_capped_at_temperature_0():
    body = prepared_body("anthropic", {"model": "claude-x", "stream": True, "max_tokens": 32000, "temperature": 1, "messages": []}, 512)
    assert "stream" not in body and body["max_tokens"] == 512 and body["temperature"] == 0
    assert prepared_body("anthropic", {"max_tokens": 100}, 512)["max_tokens"] == 100  # a smaller cap stays


def test_anthropic_thinking_keeps_its_temperature_and_gets_a_small_budget_on_top_of_the_cap():
    body = prepared_body("anthropic", {"max_tokens": 64000, "thinking": {"type": "enabled", "budget_tokens": 32000}}, 512)
    assert body["thinking"]["budget_tokens"] == 1024 and body["max_tokens"] == 1024 + 512 and "temperature" not in body
    assert "temperature" not in prepared_body("anthropic", {"top_p": 0.9}, 512)  # newer models refuse both


def test_openai_chat_caps_the_field_the_body_uses_and_spares_reasoning_models_temperature():
    chat = prepared_body("openai_chat", {"model": "gpt-4.1", "stream": True, "stream_options": {"include_usage": True}, "n": 3}, 512)
    assert chat == {"model": "gpt-4.1", "max_tokens": 512, "n": 1, "temperature": 0}
    reasoning = prepared_body("openai_chat", {"model": "o3-mini", "max_completion_tokens": 9000}, 512)
    assert reasoning == {"model": "o3-mini", "max_completion_tokens": 512}
    assert prepared_body("openai_chat", {"model": "gpt-5"}, 256) == {"model": "gpt-5", "max_completion_tokens": 256}


def test_openai_responses_and_gemini():
    assert prepared_body("openai_responses", {"model": "gpt-4.1", "stream": True}, 512) == {"model": "gpt-4.1", "max_output_tokens": 512, "temperature": 0}
    assert "temperature" not in prepared_body("openai_responses", {"model": "gpt-4.1", "reasoning": {"effort": "low"}}, 512)
    gemini = prepared_body("gemini", {"contents": [], "generationConfig": {"maxOutputTokens": 8192, "candidateCount": 2}}, 512)
    assert gemini["generationConfig"] == {"maxOutputTokens": 512, "candidateCount": 1, "temperature": 0}
    wrapped = prepared_body("gemini", {"model": "gemini-2.5-pro", "request": {"contents": []}}, 512, model="gemini-2.5-flash")
    assert wrapped["request"]["generationConfig"] == {"maxOutputTokens": 512, "temperature": 0} and wrapped["model"] == "gemini-2.5-flash"


def test_urls_lose_streaming_and_can_change_model_and_origin():
    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=K"
    assert resend_url("gemini", url) == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent?key=K"
    assert "/models/gemini-2.5-flash:generateContent" in resend_url("gemini", url, model="gemini-2.5-flash")
    assert resend_url("anthropic", "https://api.anthropic.com/v1/messages?beta=true", base_url="https://127.0.0.1:9/") == "https://127.0.0.1:9/v1/messages?beta=true"


def test_a_pair_has_the_same_headers_model_and_url_and_its_own_body():
    original, forwarded = build_pair(recorded("anthropic", "https://api.anthropic.com/v1/messages", {"model": "claude-x", "messages": [1]},
                                              forwarded={"model": "claude-x", "messages": [2]}), ResendSettings(model="claude-y"))  # fmt: skip
    assert (original.side, forwarded.side) == ("original", "forwarded")
    assert original.headers == forwarded.headers == {"x-api-key": "sk-ant-1", "content-type": "application/json"}
    assert json.loads(original.body)["messages"] == [1] and json.loads(forwarded.body)["messages"] == [2]
    assert original.model == forwarded.model == "claude-y" and json.loads(forwarded.body)["model"] == "claude-y"
    assert original.output_cap == 512 and original.temperature_zero


def test_credentials_come_from_the_flow_else_the_environment():
    bare = recorded("openai_chat", "https://api.openai.com/v1/chat/completions", {"model": "gpt-4.1"}, headers=())
    with pytest.raises(CannotResend, match=r"\$OPENAI_API_KEY"):
        build_pair(bare, ResendSettings())
    original, _ = build_pair(bare, ResendSettings(env={"OPENAI_API_KEY": "sk-env"}))
    assert original.headers["authorization"] == "Bearer sk-env"
    gemini = recorded("gemini", "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent?key=K", {"contents": []}, headers=())
    assert "x-goog-api-key" not in build_pair(gemini, ResendSettings())[0].headers  # the key is in the URL
    assert build_pair(gemini, ResendSettings())[0].model == "m"


def test_a_body_that_is_not_json_cannot_be_resent():
    broken = RecordedRequest("f", "anthropic", "https://api.anthropic.com/v1/messages", False, (("x-api-key", "k"),), b"{", b"{", (), (), None, False)
    with pytest.raises(CannotResend, match="not JSON"):
        build_pair(broken, ResendSettings())
