"""Re-encode an image smaller with Pillow: bytes in, bytes out, no I/O.

Pure and deterministic (the same bytes and target give the same output), so a decision
replayed from the memo and one made again agree. Pillow releases the GIL while it decodes,
resizes and encodes, so the worker threads that run this do not hold up the event loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from addon.media.image_tokens import Size

# The formats re-encoded (animated GIFs, HEIC and the rest pass as they are).
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
JPEG_QUALITY = 85  # visually lossless for photos at the sizes providers read
WEBP_QUALITY = 85
# A PNG goes as JPEG only when that halves it and it has a photo's many colours: photos
# shrink 5-10x, while screenshots, whose text JPEG would blur, stay PNG.
FORMAT_SWITCH_RATIO = 0.5
# A scaled screenshot has few colours (text antialiasing: some hundreds; measured ≤ ~1,200 on
# the benchmark's), a photo tens of thousands: the few-coloured go as a 256-colour palette PNG,
# about 5x smaller than full colour with the text as sharp.
SCREENSHOT_MAX_COLOURS = 4096
PALETTE_COLOURS = 256
RESAMPLE = Image.Resampling.LANCZOS
REDUCING_GAP = 3.0  # a fast integer box reduction first, then Lanczos over the last ~3x


@dataclass(frozen=True)
class Probe:
    """What an image is, read from its header without decoding its pixels."""

    media_type: str
    size: Size
    animated: bool


@dataclass(frozen=True)
class Reduced:
    data: bytes
    media_type: str
    size: Size


def probe(data: bytes) -> Probe | None:
    """Its format and size, or None for bytes that are no image this module re-encodes."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            media_type = FORMATS.get(image.format or "")
            if media_type is None:
                return None
            return Probe(media_type, image.size, getattr(image, "n_frames", 1) > 1)
    except Exception:  # noqa: BLE001 - any undecodable header: not an image we touch
        return None


def reduce_image(data: bytes, target: Size, accepts: frozenset[str] = frozenset(FORMATS.values())) -> Reduced:
    """The image scaled to `target`, in its own format, or as JPEG when `accepts` allows and
    that is far smaller. Raises on bytes Pillow cannot decode (the caller fails open)."""
    with Image.open(io.BytesIO(data)) as image:
        source = FORMATS[image.format or ""]
        exif = image.info.get("exif")
        if image.format == "JPEG":
            image.draft("RGB", target)  # decode at 1/2, 1/4 or 1/8 scale straight away
        image.load()
        image = _normalised(image)
        small = image.resize(target, RESAMPLE, reducing_gap=REDUCING_GAP) if image.size != target else image
    if source != "image/png":
        return Reduced(_encode(small, source, exif), source, small.size)
    few_colours = small.getcolors(SCREENSHOT_MAX_COLOURS) is not None
    if few_colours:  # a screenshot: a palette, its text as sharp
        palette = small.quantize(PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE)
        return Reduced(_encode(palette, source, exif), source, small.size)
    out = _encode(small, source, exif)
    if "A" not in small.mode and "image/jpeg" in accepts:
        jpeg = _encode(small, "image/jpeg", exif)
        if len(jpeg) < FORMAT_SWITCH_RATIO * len(out):
            return Reduced(jpeg, "image/jpeg", small.size)
    return Reduced(out, source, small.size)


def _normalised(image: Image.Image) -> Image.Image:
    """RGB, or RGBA where the image has transparency: modes every encoder and resize take."""
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    wanted = "RGBA" if transparent else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


def _encode(image: Image.Image, media_type: str, exif: bytes | None) -> bytes:
    buffer = io.BytesIO()
    extra = {"exif": exif} if exif else {}
    if media_type == "image/jpeg":
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        rgb.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, **extra)
    elif media_type == "image/webp":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=4, **extra)
    else:
        image.save(buffer, "PNG", compress_level=9)
    return buffer.getvalue()
