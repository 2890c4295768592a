"""Short videos generated for tests and the video benchmark with PyAV: no downloaded data.

A video is a list of scenes, each a solid colour with a shape and a little noise (so that no two
frames of a scene are byte-equal, as in a real recording), encoded as H.264 in MP4.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

COLOURS = [(200, 40, 40), (40, 160, 60), (40, 70, 200), (230, 200, 40), (120, 40, 160), (30, 30, 30), (240, 240, 240)]


@dataclass(frozen=True)
class Scene:
    seconds: float
    colour: tuple[int, int, int]
    shape: str = "square"  # "square", "circle" or "bar"


def scenes_of(count: int, seconds: float) -> list[Scene]:
    """`count` scenes of `seconds` each, in distinct colours and shapes."""
    shapes = ("square", "circle", "bar")
    return [Scene(seconds, COLOURS[k % len(COLOURS)], shapes[k % len(shapes)]) for k in range(count)]


def scene_frame(scene: Scene, width: int, height: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    """One frame of a scene: its colour, its shape in the middle (white), sensor-like noise."""
    pixels = np.empty((height, width, 3), np.float32)
    pixels[:] = scene.colour
    y, x = np.mgrid[0:height, 0:width]
    cx, cy, r = width / 2, height / 2, min(width, height) / 4
    if scene.shape == "circle":
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
    elif scene.shape == "bar":
        mask = np.abs(y - cy) < r / 3
    else:
        mask = (np.abs(x - cx) < r) & (np.abs(y - cy) < r)
    pixels[mask] = (255, 255, 255)
    pixels += rng.normal(0, noise, pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def make_video(
    scenes: list[Scene], fps: int = 10, size: tuple[int, int] = (320, 240), noise: float = 4.0, audio: bool = False, seed: int = 7, distinct: int = 0
) -> bytes:
    """An MP4 (H.264, yuv420p) of the scenes at `fps`; `audio` adds an AAC tone track.
    `distinct` > 0: only that many noisy frames are made per scene, then repeated (large videos fast)."""
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.options = {"preset": "ultrafast"}
        sound = container.add_stream("aac", rate=16000) if audio else None
        for scene in scenes:
            made: list[np.ndarray] = []
            for k in range(round(scene.seconds * fps)):
                if not distinct:
                    pixels = scene_frame(scene, *size, rng, noise)
                else:
                    if len(made) < distinct:
                        made.append(scene_frame(scene, *size, rng, noise))
                    pixels = made[k % distinct]
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound is not None:
            _tone(container, sound, sum(s.seconds for s in scenes))
    return out.getvalue()


def _tone(container, stream, seconds: float) -> None:
    rate, samples = 16000, 1024
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for k, start in enumerate(range(0, len(wave), samples)):
        chunk = wave[start : start + samples].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
