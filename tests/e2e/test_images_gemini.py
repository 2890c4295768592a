"""Gemini images and inline video through real mitmdump: the mock receives a smaller image (or a
video's frames) with a marker beside it, and a retrieve call for that marker is answered by the
proxy with the original as an inlineData part beside the functionResponse, non-streamed
(`:generateContent`) and streamed (`:streamGenerateContent?alt=sse`)."""

from __future__ import annotations

import json
import re

from tests.e2e.test_retrieval_gemini import USAGE, candidate, post, stream_chunks
from tests.support.images import b64, decoded, encoded, text_screenshot
from tests.support.mock_provider import Received, Reply
from tests.support.videos import make_video, scenes_of

MARKER = re.compile(r"retrieve id=([0-9a-f]{24})")
SHOT = b64(encoded(text_screenshot(3000, 2000)))
VIDEO = b64(make_video(scenes_of(3, 2.0), fps=10, audio=True, seed=11))
FINAL = "It shows a code editor."
API = "https://generativelanguage.googleapis.com/v1beta/models/gemini-test"


def request(mime: str, data: str) -> dict:
    parts = [{"text": "What does this show?"}, {"inlineData": {"mimeType": mime, "data": data}}]
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": {"maxOutputTokens": 256}}


def retrieving(streamed: bool):
    """The model asks for the original the note names, then answers once it has it."""

    def respond(received: Received) -> Reply | None:
        last = received.json["contents"][-1]["parts"]
        if last[0].get("functionResponse", {}).get("name") == "headroom_retrieve":
            parts = [{"text": FINAL}]
        else:
            [marker_id] = set(MARKER.findall(json.dumps(received.json)))
            parts = [{"functionCall": {"name": "headroom_retrieve", "args": {"id": marker_id}}}]
        answer = candidate(parts)
        if not streamed:
            return Reply(json=answer)
        return Reply(events=[(None, {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}], "usageMetadata": USAGE})])

    return respond


def rounds(mock) -> tuple[dict, dict]:
    first, follow_up = [r.json for r in mock.llm_requests()]
    assert first["tools"][-1]["functionDeclarations"][0]["name"] == "headroom_retrieve"
    return first, follow_up


def returned_original(follow_up: dict) -> dict:
    """The answer turn: the functionResponse, then the original beside it."""
    response, original = follow_up["contents"][-1]["parts"]
    assert response["functionResponse"]["name"] == "headroom_retrieve" and "original" in response["functionResponse"]["response"]["content"]
    return original["inlineData"]


def test_a_gemini_screenshot_goes_smaller_and_a_retrieve_returns_the_original(proxy, mock):
    mock.responder = retrieving(streamed=False)
    reply = post(proxy, f"{API}:generateContent", request("image/png", SHOT), {"x-goog-api-key": "AIza-images"})
    assert reply.status_code == 200 and reply.json()["candidates"][0]["content"]["parts"] == [{"text": FINAL}]
    first, follow_up = rounds(mock)
    _, image, note = first["contents"][0]["parts"]
    small = decoded(image["inlineData"]["data"])
    assert small.format == "PNG" and small.size == (1536, 1024) and len(image["inlineData"]["data"]) < len(SHOT) / 3
    assert "the original is 3000×2000 px" in note["text"] and MARKER.search(note["text"])
    original = returned_original(follow_up)
    assert original == {"mimeType": "image/png", "data": SHOT} and decoded(original["data"]).size == (3000, 2000)


def test_a_gemini_video_goes_as_frames_and_a_retrieve_returns_it_within_the_stream(proxy, mock):
    mock.responder = retrieving(streamed=True)
    url = f"{API}:streamGenerateContent?alt=sse"
    chunks = stream_chunks(proxy, url, request("video/mp4", VIDEO), {"x-goog-api-key": "AIza-video"})
    parts = [p for c in chunks for p in c["candidates"][0].get("content", {}).get("parts", [])]
    assert not any("functionCall" in p for p in parts) and "".join(p["text"] for p in parts) == FINAL
    first, follow_up = rounds(mock)
    question, note, *frames = first["contents"][0]["parts"]
    assert "6.0 s of video/mp4 sent as 3 frame(s)" in note["text"] and "audio" in note["text"]
    assert [p["text"] for p in frames[0::2]] == ["[frame at 00:00.0]", "[frame at 00:02.0]", "[frame at 00:04.0]"]
    assert all(decoded(p["inlineData"]["data"]).format == "JPEG" for p in frames[1::2])
    assert returned_original(follow_up) == {"mimeType": "video/mp4", "data": VIDEO}
