"""Keeping the provider's prompt cache warm: the cache aligner and what it needs."""
