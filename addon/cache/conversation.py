"""Which conversation a request belongs to: its session key, and the client's own ids.

The cache aligner's threads, the retrieve tool's arrival, OpenAI's `prompt_cache_key` and the
ledger's `session` column all name conversations this one way (the first rule that applies wins):
1. the client's own session id: header `x-claude-code-session-id` (Claude Code) or `session_id`
   (Codex), or the body's (Gemini CLI's `session_id`, where the provider reads one);
2. the body's `metadata.user_id` (Anthropic; Claude Code's names its session) or `prompt_cache_key` (OpenAI);
3. else the conversation's opening: the system prompt (or `instructions` / `systemInstruction`)
   and the first user message, first 2,000 characters of each as JSON, without their dynamic
   values (dates, times, ids: `dynamic_fields.skeleton`). Every turn of an agent loop re-sends
   both, so its requests share the key.
Pure; the provider says where its opening is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from addon.cache.dynamic_fields import skeleton
from addon.cache.prompt_units import without_cache_control

if TYPE_CHECKING:
    from addon.providers.provider import Provider

SESSION_HEADERS = {"x-claude-code-session-id": "claude-code", "session_id": "codex"}
OPENING_CHARS = 2000


def session_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The client's own session ids (Claude Code's, Codex's), which name a conversation."""
    return {name: value for name in SESSION_HEADERS if (value := headers.get(name))}


def client_name(headers: Mapping[str, str]) -> str:
    """The client program, from its User-Agent ("claude-cli/2.1.199 (…)" → "claude-cli")."""
    agent = headers.get("user-agent", "").strip()
    return agent.split("/", 1)[0].split(" ", 1)[0][:40] if agent else ""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def session_key(provider: Provider, headers: Mapping[str, str], body: dict | None) -> str:
    """The conversation this request belongs to (see the module docstring for the rule)."""
    for name, client in SESSION_HEADERS.items():
        if value := headers.get(name):
            return f"{client}:{_digest(value)}"
    body = body or {}
    if body_session := provider.session_id(body):
        return f"session:{_digest(body_session)}"
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
        return f"user:{_digest(metadata['user_id'])}"
    if isinstance(body.get("prompt_cache_key"), str) and body["prompt_cache_key"]:
        return f"cache-key:{_digest(body['prompt_cache_key'])}"
    system, first = provider.opening(body)
    return f"prompt:{_digest(provider.name, _opening_text(system), _opening_text(first))}"


def _opening_text(value: Any) -> str:
    """The first OPENING_CHARS of a prompt part without its dynamic values and snapshot lines
    (`dynamic_fields.skeleton`): a clock in the system prompt, or a breakpoint the client moves,
    must not make every turn a conversation of its own."""
    if isinstance(value, str):
        text = value
    else:  # structured: lines as lines, so snapshot lines are recognised
        text = json.dumps(without_cache_control(value), sort_keys=True, ensure_ascii=False).replace("\\n", "\n")
    head = text[: 2 * OPENING_CHARS]
    if len(text) > len(head) and "\n" in head:
        head = head.rsplit("\n", 1)[0]  # whole lines only: a value cut in two would not be recognised
    return skeleton(head)[:OPENING_CHARS]
