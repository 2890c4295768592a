"""Who owns the originals a request stores: its key, or (keyless) its client connection."""

from __future__ import annotations

from addon.providers import provider_named
from addon.retrieval.original_store import ANONYMOUS, open_store, owner_of
from addon.retrieval.retrieval_path import retrieval_path


def test_keyless_clients_do_not_share_one_owner(tmp_path) -> None:
    originals = open_store(tmp_path, None)
    chat = provider_named("openai_chat")
    keyless_a = retrieval_path(originals, chat, {}, {}, True, "/v1/chat/completions", "conn-a")
    keyless_b = retrieval_path(originals, chat, {}, {}, True, "/v1/chat/completions", "conn-b")
    assert keyless_a.owner != keyless_b.owner and ANONYMOUS not in (keyless_a.owner, keyless_b.owner)
    keyed_a = retrieval_path(originals, chat, {"authorization": "Bearer sk-1"}, {}, True, "", "conn-a")
    keyed_b = retrieval_path(originals, chat, {"authorization": "Bearer sk-1"}, {}, True, "", "conn-b")
    assert keyed_a.owner == keyed_b.owner == owner_of("Bearer sk-1")  # a key owns across connections
    # what one keyless connection stored, another cannot fetch, unless it re-sends the text
    original_id = originals.store("the original output\n" * 20, keyless_a.owner, "log")
    assert originals.fetch(original_id, keyless_b.owner).status == "forbidden"
    originals.store("the original output\n" * 20, keyless_b.owner, "log")
    assert originals.fetch(original_id, keyless_b.owner).status == "ok"
