"""Gemini images and inline video through rewrite_body: images below Gemini's own size with the
original retrievable, videos as their frames, memoised, and whole without a retrieve path."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from addon.compression.decision_memo import DecisionMemo
from addon.compression.pipeline import rewrite_body
from addon.media.image_decisions import ImageSettings
from addon.media.image_tokens import gemini_video_tokens
from addon.providers.gemini import Gemini
from addon.retrieval.original_store import open_store
from addon.retrieval.retrieval_path import RetrievalPath
from tests.support.images import b64, decoded, encoded, text_screenshot
from tests.support.videos import make_video, scenes_of

GEMINI = Gemini()
MARKER = re.compile(r"retrieve id=([0-9a-f]{24})")
SHOT = b64(encoded(text_screenshot(3000, 2000)))
VIDEO = b64(make_video(scenes_of(3, 10 / 3), fps=10, audio=True))  # 10 s, 3 scenes, with sound
LABEL = re.compile(r"\A\[frame at (\d\d):(\d\d\.\d)\]\Z")


@pytest.fixture
def retrieval(tmp_path: Path) -> RetrievalPath:
    return RetrievalPath(open_store(tmp_path, None), "owner", GEMINI)


def body(part: dict, answered: bool = False, key: str = "inlineData") -> dict:
    contents = [{"role": "user", "parts": [{"text": "what happens here?"}, part, {"text": "be brief"}]}]
    if answered:
        contents += [{"role": "model", "parts": [{"text": "A screen."}]}, {"role": "user", "parts": [{"text": "thanks"}]}]
    return {"contents": contents}


def inline(mime: str, data: str, key: str = "inlineData", type_key: str = "mimeType") -> dict:
    return {key: {type_key: mime, "data": data}}


def rewrite(document: dict, memo: DecisionMemo, retrieval: RetrievalPath | None, images: ImageSettings = ImageSettings()) -> tuple[bytes, dict, object]:
    out, report = rewrite_body(json.dumps(document).encode(), GEMINI, memo, retrieval=retrieval, images=images)
    return out, json.loads(out), report


# ---------------------------------------------------------------- images


def test_a_gemini_screenshot_goes_to_1536_px_with_the_original_retrievable(memo, retrieval):
    _, sent, report = rewrite(body(inline("image/png", SHOT)), memo, retrieval)
    question, image, brief, note = sent["contents"][0]["parts"]
    small = decoded(image["inlineData"]["data"])
    assert small.size == (1536, 1024) and small.format == "PNG"
    assert GEMINI.media.tokens(small.size) == 4 * 258 < GEMINI.media.tokens((3000, 2000)) == 12 * 258
    assert "the original is 3000×2000 px" in note["text"] and set(note) == {"text"}
    [original_id] = MARKER.findall(note["text"])
    assert sent["tools"][-1]["functionDeclarations"][0]["name"] == "headroom_retrieve" and report.retrieve_tool
    stored = retrieval.originals.fetch(original_id, "owner").original
    answer = GEMINI.media.original_answer(stored.text)
    assert answer[1] == {"inlineData": {"mimeType": "image/png", "data": SHOT}}


def test_without_a_retrieve_path_a_gemini_image_stays_whole(memo):
    document = body(inline("image/png", SHOT))
    assert rewrite(document, memo, None)[1] == document


# ---------------------------------------------------------------- video


def test_a_fresh_video_becomes_its_scenes_frames_with_timestamps_and_a_note(memo, retrieval):
    _, sent, report = rewrite(body(inline("video/mp4", VIDEO)), memo, retrieval)
    parts = sent["contents"][0]["parts"]
    assert parts[0] == {"text": "what happens here?"} and parts[-1] == {"text": "be brief"}  # neighbours untouched
    note, *frames = parts[1:-1]
    assert "video folded: 10.0 s of video/mp4 sent as 3 frame(s)" in note["text"] and "audio track is not sent" in note["text"]
    labels, images = frames[0::2], frames[1::2]
    seconds = [int(m[1]) * 60 + float(m[2]) for label in labels if (m := LABEL.match(label["text"]))]
    assert len(seconds) == len(images) == 3  # one per scene: the noise within a scene never counts
    assert seconds[0] == 0.0 and 3.3 <= seconds[1] <= 4.4 and 6.6 <= seconds[2] <= 7.7  # at (or within a second after) each cut
    for image in images:
        assert image["inlineData"]["mimeType"] == "image/jpeg"
        frame = decoded(image["inlineData"]["data"])
        assert frame.format == "JPEG" and frame.size == (320, 240)  # within one 768-px tile already
    [original_id] = MARKER.findall(note["text"])
    stored = retrieval.originals.fetch(original_id, "owner").original
    assert stored.text == f"data:video/mp4;base64,{VIDEO}"
    assert GEMINI.media.original_answer(stored.text)[1] == {"inlineData": {"mimeType": "video/mp4", "data": VIDEO}}
    assert sent["tools"][-1]["functionDeclarations"][0]["name"] == "headroom_retrieve"
    [entry] = report.rewritten
    assert entry.tokens_before == gemini_video_tokens(10.0, True) == 10 * (258 + 32)
    assert 3 * 258 < entry.tokens_after < 3 * 258 + 100  # three one-tile frames, and the labels and note


def test_the_same_video_re_sent_gets_the_same_bytes(memo, retrieval):
    first, sent, _ = rewrite(body(inline("video/mp4", VIDEO)), memo, retrieval)
    later, _, report = rewrite(body(inline("video/mp4", VIDEO), answered=True), memo, retrieval)
    head = first.split(b'{"text": "be brief"}')[0]
    assert later.startswith(head) and report.rewritten[0].memo and report.replayed_markers == 1


def test_the_clients_key_spelling_is_kept(memo, retrieval):
    _, sent, _ = rewrite(body(inline("video/mp4", VIDEO, "inline_data", "mime_type")), memo, retrieval)
    images = [p for p in sent["contents"][0]["parts"] if "inline_data" in p]
    assert len(images) == 3 and all(p["inline_data"]["mime_type"] == "image/jpeg" for p in images)


def test_a_video_stays_whole_without_a_retrieve_path_when_broken_or_seen(memo, retrieval):
    document = body(inline("video/mp4", VIDEO))
    assert rewrite(document, memo, None)[1] == document  # and, decided whole, it stays whole
    assert rewrite(document, memo, retrieval)[1] == document
    for broken in (b64(b"not a video at all" * 50), "%%%", b64(encoded(text_screenshot(200, 100)))):
        document = body(inline("video/mp4", broken))
        _, sent, report = rewrite(document, memo, retrieval)
        assert sent == document and not report.rewritten and not report.errors
    history = body(inline("video/webm", b64(make_video(scenes_of(2, 2.0), seed=3))), answered=True)
    assert rewrite(history, memo, retrieval)[1] == history  # the provider saw it whole


def test_a_video_whose_frames_take_too_long_goes_whole_and_stays_so(memo, retrieval):
    document = body(inline("video/mp4", VIDEO))
    _, sent, report = rewrite(document, memo, retrieval, ImageSettings(video_budget_s=0.0))
    assert sent == document and not report.rewritten and report.images["over_budget"] == 1
    _, again, report = rewrite(body(inline("video/mp4", VIDEO), answered=True), memo, retrieval)
    assert again == body(inline("video/mp4", VIDEO), answered=True) and "over_budget" not in str(report.errors)


def test_a_replayed_video_without_a_retrieve_path_goes_whole(memo, retrieval):
    rewrite(body(inline("video/mp4", VIDEO)), memo, retrieval)
    document = body(inline("video/mp4", VIDEO), answered=True)
    assert rewrite(document, memo, None)[1] == document


def test_a_higher_rate_finds_cuts_sooner(memo, retrieval):
    _, sent, _ = rewrite(body(inline("video/mp4", VIDEO)), memo, retrieval, ImageSettings(video_fps=5.0))
    labels = [p["text"] for p in sent["contents"][0]["parts"] if LABEL.match(p.get("text", ""))]
    assert labels == ["[frame at 00:00.0]", "[frame at 00:03.4]", "[frame at 00:06.6]"]  # cuts at 3.3 s and 6.6 s, looked at every 0.2 s


def test_frames_of_a_large_video_fit_one_tile(memo, retrieval):
    big = b64(make_video(scenes_of(2, 1.5), fps=4, size=(1280, 720), noise=2.0))
    _, sent, _ = rewrite(body(inline("video/mp4", big)), memo, retrieval)
    sizes = [Image.open(io.BytesIO(base64.b64decode(p["inlineData"]["data"]))).size for p in sent["contents"][0]["parts"] if "inlineData" in p]
    assert sizes == [(768, 432), (768, 432)]
