#!/usr/bin/env python3
"""Video benchmark: what a Gemini inline video costs before and after Headroom, and the measured
trade-offs behind the defaults (the sampling rate, the scene-change threshold).

Generates (seeded) H.264 videos with PyAV (tests/support/videos.py: scenes of solid colours and
shapes with sensor-like noise), puts each in a Gemini request and runs the media step
(addon/media/image_decisions.py) with a retrieve path, as the proxy does. Tokens by Gemini's
formula: before, 258 per second of video (it reads 1 frame a second) plus 32 per second of
audio; after, 258 per 768-px tile of each kept frame plus the labels and note at ~4 characters
a token. Milliseconds per video: decode, sample, compare, encode the kept frames, store.

Usage: scripts/bench_video.py [--runs N] [--tables videos,fps,threshold]
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from addon.media.image_decisions import ImageFigures, ImageSettings  # noqa: E402
from addon.media.image_tokens import gemini_video_tokens  # noqa: E402
from addon.media.video_decisions import VideoForm  # noqa: E402
from addon.media.video_frames import _thumbnail, sample_frames  # noqa: E402
from addon.providers import provider_named  # noqa: E402
from addon.retrieval.original_store import open_store  # noqa: E402
from addon.retrieval.retrieval_path import RetrievalPath  # noqa: E402
from scripts.bench_images import run as run_images  # noqa: E402
from tests.support.videos import Scene, make_video, scenes_of  # noqa: E402


def videos() -> list[tuple[str, bytes, int]]:
    """(name, MP4 bytes, scenes) of the benchmark's videos."""
    return [
        ("slides 1280×720 30 s, 6 scenes, audio", make_video(scenes_of(6, 5.0), 10, (1280, 720), 3.0, True, 1, distinct=3), 6),
        ("camera 640×360 20 s, 4 scenes, noisy", make_video(scenes_of(4, 5.0), 15, (640, 360), 16.0, True, 2, distinct=6), 4),
        ("static 1920×1080 60 s, 1 scene", make_video(scenes_of(1, 60.0), 5, (1920, 1080), 2.0, False, 3, distinct=2), 1),
        ("cuts 320×240 10 s, 10 scenes", make_video(scenes_of(10, 1.0), 10, (320, 240), 4.0, False, 4), 10),
    ]


def body(data: str) -> dict:
    return {"contents": [{"role": "user", "parts": [{"text": "What happens?"}, {"inlineData": {"mimeType": "video/mp4", "data": data}}]}]}


def run(document: dict, retrieval: RetrievalPath, runs: int, fps: float) -> tuple[ImageFigures, list[float]]:
    """Gemini's decision on a video body, afresh each run (bench_images.run)."""
    return run_images(provider_named("gemini"), document, retrieval, runs, ImageSettings(video_fps=fps))


def _p(times: list[float], q: float) -> str:
    return f"{sorted(times)[min(len(times) - 1, round(q * (len(times) - 1)))]:.0f}"


def video_table(retrieval: RetrievalPath, runs: int) -> Table:
    table = Table(title="Gemini inline video at the default rate (1 fps), tokens by Gemini's formula")
    for column in ("video", "seconds", "sampled", "kept", "tokens before", "tokens after", "saved", "KB before", "KB after", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "video" else "right")
    for name, raw, _ in videos():
        sampled = sample_frames(raw, 1.0)
        figures, times = run(body(base64.b64encode(raw).decode()), retrieval, runs, 1.0)
        before = gemini_video_tokens(sampled.duration, sampled.has_audio)
        if figures.reductions:  # else no saving: the video goes whole
            _, form, _ = figures.reductions[0]
            assert isinstance(form, VideoForm)
            kept, after, kb_after = str(len(form.frames)), form.tokens_after, f"{figures.bytes_after / 1024:,.0f}"
        else:
            kept, after, kb_after = f"whole ({len(sampled.frames)})", before, f"{len(raw) / 1024:,.0f}"
        table.add_row(
            name, f"{sampled.duration:.0f}", str(sampled.sampled), kept, f"{before:,}", f"{after:,}",
            f"{100 * (before - after) / before:.0f}%", f"{len(raw) / 1024:,.0f}", kb_after,
            f"{statistics.median(times):.0f}", _p(times, 0.99),
        )  # fmt: skip
    return table


def fps_table(retrieval: RetrievalPath, runs: int) -> Table:
    """Scenes of uneven length (the shortest 0.4 s): what each rate finds, how late, at what cost."""
    lengths = [3.0, 0.4, 2.6, 1.5, 0.7, 4.0, 0.9, 2.0, 1.2, 3.7]  # 20 s, 10 scenes
    scenes = [Scene(s, sc.colour, sc.shape) for s, sc in zip(lengths, scenes_of(len(lengths), 1.0))]
    raw = make_video(scenes, 10, (640, 360), 4.0, True, 5, distinct=2)
    cuts = np.cumsum([0.0] + lengths[:-1])
    table = Table(title="Sampling rate: 20 s, 10 scenes of 0.4-4 s (640×360, audio)")
    for column in ("fps", "sampled", "kept", "scenes found", "mean delay s", "tokens after", "p50 ms"):
        table.add_column(column, justify="right")
    for fps in (0.5, 1.0, 2.0, 4.0, 10.0):
        figures, times = run(body(base64.b64encode(raw).decode()), retrieval, runs, fps)
        _, form, _ = figures.reductions[0]
        assert isinstance(form, VideoForm)
        kept = [s for s, *_ in form.frames]
        found = [min((k - c for k in kept if k >= c - 1e-6), default=None) for c in cuts]
        found_in_scene = [d for d, length in zip(found, lengths) if d is not None and d < length]
        delay = statistics.mean(found_in_scene) if found_in_scene else 0.0
        table.add_row(f"{fps:g}", str(sample_frames(raw, fps).sampled), str(len(kept)), f"{len(found_in_scene)}/10", f"{delay:.2f}", f"{form.tokens_after:,}", f"{statistics.median(times):.0f}")
    return table


def threshold_table() -> Table:
    """The thumbnail difference within a scene (noise) and at a cut, by noise and size."""
    table = Table(title="Scene-change threshold: mean absolute difference of 64-px grayscale thumbnails")
    for column in ("video", "noise σ", "max within a scene", "at a cut", "new shape over ~3% of frame"):
        table.add_column(column, justify="right")
    for size in ((320, 240), (1280, 720)):
        for noise in (4.0, 8.0, 16.0, 24.0):
            raw = make_video(scenes_of(2, 2.0), 10, size, noise, seed=6, distinct=8)
            within, cut = _differences(raw)
            small = make_video([Scene(2.0, (120, 120, 120), "square"), Scene(2.0, (120, 120, 120), "circle")], 10, size, noise, seed=6, distinct=8)
            table.add_row(f"{size[0]}×{size[1]}", f"{noise:g}", f"{within:.2f}", f"{cut:.1f}", f"{_differences(small)[1]:.1f}")
    return table


def _differences(raw: bytes) -> tuple[float, float]:
    """The largest difference from the first frame within the first scene (2 s), and at the cut."""
    first, within, cut = None, 0.0, 0.0
    with av.open(io.BytesIO(raw)) as container:
        for frame in container.decode(video=0):
            thumb = _thumbnail(frame)
            if first is None:
                first = thumb
                continue
            difference = float(np.abs(thumb - first).mean())
            if frame.time < 2.0 - 1e-6:
                within = max(within, difference)
            elif not cut:
                cut = difference
    return within, cut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tables", default="videos,fps,threshold")
    args = parser.parse_args()
    console = Console(width=170)
    tables = args.tables.split(",")
    with tempfile.TemporaryDirectory() as home:
        originals = open_store(Path(home), None)
        retrieval = RetrievalPath(originals, "bench", provider_named("gemini"))
        if "videos" in tables:
            console.print(video_table(retrieval, args.runs))
        if "fps" in tables:
            console.print(fps_table(retrieval, args.runs))
        originals.close()
    if "threshold" in tables:
        console.print(threshold_table())


if __name__ == "__main__":
    main()
