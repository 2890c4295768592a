"""The AnthropicMessages provider: everything about its API, in one place."""

from addon.providers.anthropic_messages.anthropic_messages import AnthropicMessages

__all__ = ["AnthropicMessages"]
