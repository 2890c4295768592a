"""ProviderMedia's defaults: an API without images (a provider that sets no `media` of its own)."""

from __future__ import annotations

from addon.media.provider_media import EXPIRED, NO_IMAGES, ProviderMedia
from addon.providers.provider import Provider


def test_the_defaults_are_an_api_without_images():
    media = Provider().media
    assert isinstance(media, ProviderMedia) and media.blocks({"messages": []}) == []
    assert media.kept((3000, 2000)) == (3000, 2000) and media.tokens((3000, 2000)) == 0
    assert not media.returns_media and not media.takes_video and media.default_max_edge == 0


def test_an_original_answer_without_a_way_back_or_an_original():
    media = ProviderMedia()
    assert media.answer("image/png", "QUJD") == NO_IMAGES
    assert media.original_answer("data:video/mp4;base64,AAAA") == NO_IMAGES
    assert media.original_answer("not a data url") == EXPIRED
