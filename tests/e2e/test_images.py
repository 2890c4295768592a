"""A Claude Code-shaped request with a 3000×2000 screenshot through real mitmdump: the provider
gets a smaller valid image with a marker beside it, and a retrieve call for that marker is
answered by the proxy with the original image."""

from __future__ import annotations

import re

import anthropic

from tests.support.images import b64, decoded, encoded, text_screenshot
from tests.support.mock_provider import anthropic_retrieving_model

MARKER = re.compile(r"retrieve id=([0-9a-f]{24})")
SHOT = b64(encoded(text_screenshot(3000, 2000)))
FINAL = "The screen shows a code editor."


def claude_code_request() -> dict:
    """Claude Code's shape: a system prompt with breakpoints, its tools, a streamed request, and
    the result of a screenshot tool whose output is an image."""
    tools = [
        {"name": name, "description": f"The {name} tool.", "input_schema": {"type": "object", "properties": {}}}
        for name in ("Bash", "Read", "Edit", "mcp__browser__screenshot")
    ]
    screenshot = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": SHOT}}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "What is on my screen?"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_shot", "name": "mcp__browser__screenshot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_shot", "content": [screenshot]}]},
    ]
    system = [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}}]
    return {"model": "claude-test", "max_tokens": 256, "system": system, "tools": tools, "messages": messages, "metadata": {"user_id": "u1"}}


def test_a_screenshot_goes_smaller_and_a_retrieve_returns_the_original(proxy, mock, monkeypatch):
    mock.responder = anthropic_retrieving_model("toolu_img", FINAL, True)
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-images", max_retries=0)
        with client.messages.stream(**claude_code_request()) as stream:
            message = stream.get_final_message()
    assert [b.type for b in message.content] == ["text"] and message.content[0].text == FINAL  # the tool never shows

    first, follow_up = [r for r in mock.llm_requests() if r.path.split("?")[0].endswith("/v1/messages")]
    image, note = first.json["messages"][2]["content"][0]["content"]
    small = decoded(image["source"]["data"])
    assert small.format == "PNG" and small.size == (1280, 853) and len(image["source"]["data"]) < len(SHOT) / 3
    assert "the original is 3000×2000 px" in note["text"] and MARKER.search(note["text"])
    assert first.json["tools"][-1]["name"] == "headroom_retrieve"

    result = follow_up.json["messages"][-1]["content"][0]
    assert result["tool_use_id"] == "toolu_img"
    text, original = result["content"]
    assert original["type"] == "image" and original["source"]["data"] == SHOT and original["source"]["media_type"] == "image/png"
    assert decoded(original["source"]["data"]).size == (3000, 2000)
