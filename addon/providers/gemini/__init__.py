"""The Gemini provider: everything about its API, in one place."""

from addon.providers.gemini.gemini import Gemini

__all__ = ["Gemini"]
