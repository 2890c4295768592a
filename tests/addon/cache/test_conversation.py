"""Which conversation a request belongs to: the session key rule, the client's ids and name."""

from __future__ import annotations

import json

from addon.cache.conversation import client_name, session_headers, session_key
from addon.providers import provider_named

ANTHROPIC = provider_named("anthropic")


def anthropic_body(first: str = "fix the bug", system: str = "You are Claude Code") -> bytes:
    return json.dumps({"model": "claude-sonnet-4-5", "system": system, "messages": [{"role": "user", "content": first}]}).encode()


def test_session_key_rule():
    body = json.loads(anthropic_body())
    assert session_key(ANTHROPIC, {"x-claude-code-session-id": "abc"}, body).startswith("claude-code:")
    assert session_key(provider_named("openai_responses"), {"session_id": "abc"}, {}).startswith("codex:")
    assert session_key(ANTHROPIC, {}, {**body, "metadata": {"user_id": "u_session_1"}}).startswith("user:")
    assert session_key(provider_named("openai_responses"), {}, {"prompt_cache_key": "conv-1"}).startswith("cache-key:")
    later = {**body, "messages": body["messages"] + [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "more"}]}
    assert session_key(ANTHROPIC, {}, body) == session_key(ANTHROPIC, {}, later)  # every turn: one session
    assert session_key(ANTHROPIC, {}, body) != session_key(ANTHROPIC, {}, {**body, "system": "another agent"})
    assert session_key(ANTHROPIC, {"x-claude-code-session-id": "a"}, body) != session_key(ANTHROPIC, {"x-claude-code-session-id": "b"}, body)


def test_a_clock_in_the_system_prompt_keeps_one_session():
    body = {"system": "Today is 2025-11-20, 09:12:45.", "messages": [{"role": "user", "content": "fix it"}]}
    later = {**body, "system": "Today is 2025-11-21, 17:03:02."}
    assert session_key(ANTHROPIC, {}, body) == session_key(ANTHROPIC, {}, later)


def test_client_ids_and_name_from_headers():
    headers = {"x-claude-code-session-id": "s1", "user-agent": "claude-cli/2.1.199 (external, cli)", "other": "x"}
    assert session_headers(headers) == {"x-claude-code-session-id": "s1"}
    assert client_name(headers) == "claude-cli" and client_name({}) == ""
