"""Frames of a video (PyAV): sampling, scene changes, determinism; and the video's token count,
labels and option."""

from __future__ import annotations

import pytest

from addon.media.image_tokens import gemini_video_tokens
from addon.media.video_decisions import parse_video_fps, timestamp
from addon.media.video_frames import NotAVideo, OverBudget, sample_frames
from tests.support.images import decoded
from tests.support.videos import Scene, make_video, scenes_of

CLIP = make_video(scenes_of(3, 2.0), fps=10, noise=8.0)  # 6 s, cuts at 2 s and 4 s, heavy noise


def test_one_frame_a_second_looked_at_and_one_kept_per_scene():
    sampled = sample_frames(CLIP, 1.0)
    assert sampled.sampled == 6 and sampled.duration == pytest.approx(6.0) and not sampled.has_audio
    assert [f.seconds for f in sampled.frames] == [0.0, 2.0, 4.0]
    assert all(decoded(f.jpeg).size == f.size == (320, 240) for f in sampled.frames)


def test_every_frame_kept_without_a_threshold_and_rates_above_the_videos():
    assert len(sample_frames(CLIP, 1.0, threshold=-1).frames) == 6
    assert sample_frames(CLIP, 25.0).sampled == 60  # never more than the video has


def test_similar_scenes_still_differ():
    close = make_video([Scene(2.0, (120, 120, 120), "square"), Scene(2.0, (120, 120, 120), "circle")], fps=5)
    assert len(sample_frames(close, 1.0).frames) == 2  # the same colour, another shape


def test_the_same_bytes_give_the_same_frames():
    assert sample_frames(CLIP, 2.0) == sample_frames(CLIP, 2.0)


@pytest.mark.parametrize("data", [b"", b"not a video" * 100, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64])
def test_bytes_that_are_not_a_video_raise(data):
    with pytest.raises((NotAVideo, ValueError)):
        sample_frames(data, 1.0)


def test_tokens_labels_and_the_option():
    assert gemini_video_tokens(10.0, False) == 2580 and gemini_video_tokens(9.2, True) == 10 * 290
    assert (timestamp(0), timestamp(12.04), timestamp(75.55), timestamp(3725.0)) == ("00:00.0", "00:12.0", "01:15.6", "1:02:05.0")
    assert parse_video_fps(0.5) == 0.5
    for bad in (0, -1, 31):
        with pytest.raises(ValueError, match="headroom_video_fps"):
            parse_video_fps(bad)


def test_sampling_stops_at_its_budget():
    with pytest.raises(OverBudget):
        sample_frames(CLIP, 1.0, budget_s=0.0)
    assert sample_frames(CLIP, 1.0, budget_s=60.0).sampled == 6
