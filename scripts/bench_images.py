#!/usr/bin/env python3
"""Image benchmark: what fresh images cost each provider before and after Headroom.

Generates (seeded) screenshots (a text editor, a web app UI, a 1080p terminal) and photos (noise
over gradients, as JPEG and as PNG), puts each in a request of each provider's shape, and runs
the image step (addon/media/image_decisions.py) with a retrieve path, as the proxy does. Prints
per provider and image: tokens before/after by the provider's formula, bytes before/after, and
milliseconds per image (p50 and p99 over runs; decode, resize, encode, store).

Usage: scripts/bench_images.py [--runs N] [--providers anthropic,openai_chat,...]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from addon.media.image_decisions import ImageFigures, ImageSettings, plan_images  # noqa: E402
from addon.media.image_reduction import probe  # noqa: E402
from addon.providers import Provider, provider_named  # noqa: E402
from addon.retrieval.original_store import open_store  # noqa: E402
from addon.retrieval.retrieval_path import RetrievalPath  # noqa: E402
from tests.support.images import b64, encoded, photo, text_screenshot, ui_screenshot  # noqa: E402

PROVIDERS = ("anthropic", "openai_chat", "openai_responses", "gemini")


def images() -> list[tuple[str, str, str]]:
    """(name, media type, base64) of the benchmark's images."""
    made = [
        ("editor 3000×2000 png", "PNG", text_screenshot(3000, 2000)),
        ("web UI 2880×1800 png", "PNG", ui_screenshot(2880, 1800)),
        ("terminal 1920×1080 png", "PNG", text_screenshot(1920, 1080, seed=4, font_px=16)),
        ("photo 4000×3000 jpeg", "JPEG", photo(4000, 3000)),
        ("photo 2000×1500 png", "PNG", photo(2000, 1500, seed=5)),
    ]
    return [(name, f"image/{fmt.lower()}", b64(encoded(image, fmt, **({"quality": 90} if fmt == "JPEG" else {})))) for name, fmt, image in made]


def body(provider: str, media_type: str, data: str) -> dict:
    """A user turn holding the image, in `provider`'s shape."""
    url = f"data:{media_type};base64,{data}"
    if provider == "anthropic":
        return {"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}]}]}
    if provider == "openai_chat":
        return {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]}
    if provider == "openai_responses":
        return {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": url}]}]}
    return {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": media_type, "data": data}}]}]}


class FreshMemo:
    """No image is known: every run decides afresh (what the timing measures)."""

    def get(self, key: str) -> None:
        return None


def run(
    provider: Provider, document: dict, retrieval: RetrievalPath, runs: int, settings: ImageSettings = ImageSettings()
) -> tuple[ImageFigures, list[float]]:
    """The figures of deciding `document`'s media afresh, and each of `runs` timings in ms."""
    times, figures = [], ImageFigures()
    for _ in range(runs):
        started = time.perf_counter()
        figures = plan_images(provider, document, FreshMemo(), settings, retrieval, True).figures  # type: ignore[arg-type]
        times.append((time.perf_counter() - started) * 1000)
    return figures, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    args = parser.parse_args()
    table = Table(title="Fresh images, per provider (tokens by the provider's formula)")
    for column in ("provider", "image", "tokens before", "tokens after", "saved", "KB before", "KB after", "sent as", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column in ("provider", "image", "sent as") else "right")
    with tempfile.TemporaryDirectory() as home:
        originals = open_store(Path(home), None)
        for provider in map(provider_named, args.providers.split(",")):
            retrieval = RetrievalPath(originals, "bench", provider)
            for name, media_type, data in images():
                figures, times = run(provider, body(provider.name, media_type, data), retrieval, args.runs)
                size = probe(base64.b64decode(data)).size  # type: ignore[union-attr]
                table.add_row(provider.name, name, *_row(figures, len(data) * 3 // 4, provider.media.tokens(size), times))
        originals.close()
    Console(width=170).print(table)


def _row(figures: ImageFigures, raw_bytes: int, tokens: int, times: list[float]) -> list[str]:
    p50 = statistics.median(times)
    p99 = sorted(times)[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    if not figures.reductions:
        kb = f"{raw_bytes / 1024:,.0f}"
        return [f"{tokens:,}", f"{tokens:,}", "0%", kb, kb, "as sent", f"{p50:.0f}", f"{p99:.0f}"]
    _, form, _ = figures.reductions[0]
    before, after = form.tokens_before, form.tokens_after
    sent = f"{form.size_after[0]}×{form.size_after[1]} {form.media_type.split('/')[1]}"
    return [
        f"{before:,}", f"{after:,}", f"{100 * (before - after) / before:.0f}%",
        f"{figures.bytes_before / 1024:,.0f}", f"{figures.bytes_after / 1024:,.0f}", sent, f"{p50:.0f}", f"{p99:.0f}",
    ]  # fmt: skip


if __name__ == "__main__":
    main()
