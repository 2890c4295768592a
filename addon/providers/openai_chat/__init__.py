"""The OpenAIChat provider: everything about its API, in one place."""

from addon.providers.openai_chat.openai_chat import OpenAIChat

__all__ = ["OpenAIChat"]
