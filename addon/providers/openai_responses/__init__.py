"""The OpenAIResponses provider: everything about its API, in one place."""

from addon.providers.openai_responses.openai_responses import OpenAIResponses

__all__ = ["OpenAIResponses"]
