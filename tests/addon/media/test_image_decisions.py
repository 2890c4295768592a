"""Images through rewrite_body: fresh ones smaller, memoised, reversible, the rest untouched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from addon.compression.decision_memo import DecisionMemo
from addon.compression.pipeline import rewrite_body
from addon.media.image_decisions import DEFAULT_MAX_EDGE, ImageSettings, parse_max_edge
from addon.media.image_tokens import anthropic_kept, openai_kept
from addon.media.provider_media import NO_IMAGES
from addon.providers.anthropic_messages import AnthropicMessages
from addon.providers.gemini import Gemini
from addon.providers.openai_chat import OpenAIChat
from addon.retrieval.original_store import open_store
from addon.retrieval.retrieval_path import RetrievalPath
from tests.support.images import b64, decoded, encoded, photo, text_screenshot

ANTHROPIC = AnthropicMessages()
MARKER = re.compile(r"retrieve id=([0-9a-f]{24})")
SHOT = b64(encoded(text_screenshot(3000, 2000)))
IMAGES = ImageSettings()


@pytest.fixture
def retrieval(tmp_path: Path) -> RetrievalPath:
    return RetrievalPath(open_store(tmp_path, None), "owner", ANTHROPIC)


def anthropic_body(data: str, answered: bool = False) -> dict:
    """A screenshot tool's result; `answered`: the model has replied since (it is history)."""
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
    messages = [
        {"role": "user", "content": "what is on the screen?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "screenshot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [image]}]},
    ]
    if answered:
        messages += [{"role": "assistant", "content": "A terminal."}, {"role": "user", "content": "thanks"}]
    return {"model": "claude-test", "max_tokens": 64, "messages": messages}


def rewrite(body: dict, memo: DecisionMemo, retrieval: RetrievalPath | None, provider=ANTHROPIC, images=IMAGES):
    raw = json.dumps(body).encode()
    out, report = rewrite_body(raw, provider, memo, retrieval=retrieval, images=images)
    return json.loads(out), report


def test_a_fresh_screenshot_goes_smaller_with_a_marker_and_the_tool(memo, retrieval):
    sent, report = rewrite(anthropic_body(SHOT), memo, retrieval)
    image, note = sent["messages"][2]["content"][0]["content"]
    small = decoded(image["source"]["data"])
    assert small.format == "PNG" and image["source"]["media_type"] == "image/png" and max(small.size) == 1280
    assert "sent at 1280×853 px, the original is 3000×2000 px" in note["text"]
    [original_id] = MARKER.findall(note["text"])
    stored = retrieval.originals.fetch(original_id, "owner").original
    assert stored.kind == "image" and stored.text == f"data:image/png;base64,{SHOT}"
    assert [t["name"] for t in sent["tools"]] == ["headroom_retrieve"] and report.retrieve_tool
    [entry] = report.rewritten
    assert entry.kind == "image" and entry.tokens_after < entry.tokens_before
    [outcome] = report.outcomes  # the provenance record's fate: compressed, with the id the note names
    assert (outcome.fate, outcome.kind, outcome.ids) == ("compressed", "image", (original_id,))
    assert report.as_dict()["images"] == {**report.images, "reduced": 1, "images": 1} and report.images["bytes_after"] < report.images["bytes_before"]
    # the retrieve tool answers with the original image, where tool results can carry one
    answer = ANTHROPIC.media.original_answer(stored.text)
    assert answer[1]["source"]["data"] == SHOT and OpenAIChat().media.original_answer(stored.text) == NO_IMAGES


def test_the_same_image_re_sent_gets_the_same_bytes(memo, retrieval):
    first, _ = rewrite(anthropic_body(SHOT), memo, retrieval)
    later, report = rewrite(anthropic_body(SHOT, answered=True), memo, retrieval)
    assert later["messages"][2] == first["messages"][2]
    assert report.rewritten[0].memo and report.replayed_markers == 1


def test_an_image_the_provider_saw_whole_stays_whole(memo, retrieval):
    body = anthropic_body(SHOT, answered=True)  # history, never decided: sent before Headroom ran
    sent, report = rewrite(body, memo, retrieval)
    assert sent == body and not report.rewritten
    body["messages"].append({"role": "user", "content": [body["messages"][2]["content"][0]["content"][0]]})
    sent, _ = rewrite(body, memo, retrieval)  # a fresh copy of it goes whole too
    assert sent == body


def test_without_a_retrieve_path_only_down_to_what_the_provider_keeps(memo):
    sent, report = rewrite(anthropic_body(SHOT), memo, None)
    image, note = sent["messages"][2]["content"][0]["content"]
    assert decoded(image["source"]["data"]).size == anthropic_kept((3000, 2000))
    assert "the size Claude reads it at" in note["text"] and not MARKER.search(note["text"])
    assert "tools" not in sent and report.rewritten[0].tokens_before == report.rewritten[0].tokens_after


def test_a_replayed_marker_without_a_retrieve_path_goes_whole(memo, retrieval):
    rewrite(anthropic_body(SHOT), memo, retrieval)
    body = anthropic_body(SHOT, answered=True)
    sent, _ = rewrite(body, memo, None)
    assert sent == body


def test_openai_chat_goes_to_what_it_keeps_and_says_so(memo, tmp_path):
    url = "data:image/png;base64," + b64(encoded(photo(3000, 2000)))
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": [{"type": "text", "text": "what is it?"}, {"type": "image_url", "image_url": {"url": url}}]}]}
    chat_retrieval = RetrievalPath(open_store(tmp_path, None), "owner", OpenAIChat())
    sent, _ = rewrite(body, memo, chat_retrieval, OpenAIChat())
    text, image, note = sent["messages"][0]["content"]
    assert image["image_url"]["url"].startswith("data:image/jpeg;base64,")  # a photo: JPEG is far smaller
    assert decoded(image["image_url"]["url"].split(",", 1)[1]).size == openai_kept((3000, 2000))
    assert note["type"] == "text" and "OpenAI" in note["text"] and "tools" not in sent


def test_gemini_images_stay_whole_without_a_retrieve_path(memo):  # with one: test_gemini_media.py
    body = {"contents": [{"role": "user", "parts": [{"text": "what?"}, {"inlineData": {"mimeType": "image/png", "data": SHOT}}]}]}
    sent, _ = rewrite(body, memo, None, Gemini())
    assert sent == body


def test_small_broken_and_url_images_pass_untouched(memo, retrieval):
    small = b64(encoded(text_screenshot(800, 600)))
    for data in (small, "bm90IGFuIGltYWdl", "%%%"):
        body = anthropic_body(data)
        sent, report = rewrite(body, memo, retrieval)
        assert sent == body and not report.rewritten
    assert rewrite(anthropic_body(SHOT), memo, retrieval, images=ImageSettings(enabled=False))[0] == anthropic_body(SHOT)


def test_only_the_rewritten_strings_change_bytes(memo, retrieval):
    raw = json.dumps(anthropic_body(SHOT), indent=1).encode()
    out, _ = rewrite_body(raw, ANTHROPIC, memo, retrieval=retrieval, images=IMAGES)
    head = raw.decode().split(SHOT)[0].split('"data":')[0]
    assert out.decode().startswith(head)


def test_parse_max_edge():
    assert DEFAULT_MAX_EDGE == {"anthropic": 1280, "openai_chat": 2048, "openai_responses": 2048, "gemini": 1536}  # the providers' media
    assert parse_max_edge(["anthropic=1024"]) == {**DEFAULT_MAX_EDGE, "anthropic": 1024}
    for bad in (["anthropic"], ["nope=100"], ["gemini=10"]):
        with pytest.raises(ValueError, match="PROVIDER=PIXELS"):
            parse_max_edge(bad)
