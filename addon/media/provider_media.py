"""What the media code asks of a provider: where a body's images are, what the provider keeps of
one and what it costs, and how a retrieve answer carries an original back. Each provider's
package holds its own (addon/providers/<provider>/media.py) and its `Provider` hands it out as
`media`; the defaults here say "this API has no images".

Imports nothing from addon.providers: addon/providers/provider.py imports this module.
"""

from __future__ import annotations

from typing import Any

from addon.media.image_blocks import MediaBlock, split_data_url
from addon.media.image_tokens import Size

NO_IMAGES = "The original image cannot be returned in a tool result by this API."
EXPIRED = "The original has expired or the id is unknown."


class ProviderMedia:
    """One API's images (and videos): the defaults are an API without any."""

    returns_media: bool = False  # its tool results can carry an original image back (retrieve answers)
    takes_video: bool = False  # inline videos are decided as their frames (addon/media/video_decisions.py)
    display_name: str = ""  # the model's maker, as the note beside an image names it
    default_max_edge: int = 0  # the long edge images go to by default (0: it has none to bound)

    def blocks(self, body: Any) -> list[MediaBlock]:
        """Every base64 image or video block of a body, in this API's shapes."""
        return []

    def kept(self, size: Size, detail: str = "high") -> Size:
        """The pixels this API keeps of an image of `size`: it never sees more."""
        return size

    def tokens(self, size: Size, detail: str = "high") -> int:
        """Input tokens an image of `size` costs, by this API's documented formula."""
        return 0

    def video_tokens(self, seconds: float, has_audio: bool) -> int:
        """Input tokens an inline video costs (APIs with `takes_video`)."""
        return 0

    def answer(self, media_type: str, data: str) -> str | list[dict[str, Any]]:
        """The retrieve tool's answer for an original image or video, in this API's tool-result shape."""
        return NO_IMAGES

    def original_answer(self, original: str) -> str | list[dict[str, Any]]:
        """The retrieve tool's answer for an original stored as a data URL."""
        found = split_data_url(original)
        return EXPIRED if found is None else self.answer(*found)
