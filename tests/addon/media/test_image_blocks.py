"""MediaBlock, data URLs and the user-message walk the providers' media share (each provider's
finder: tests/addon/providers/<provider>/test_media.py)."""

from __future__ import annotations

from addon.media.image_blocks import MediaBlock, split_data_url, user_contents


def test_split_data_url():
    assert split_data_url("data:image/png;base64,QUJD") == ("image/png", "QUJD")
    assert split_data_url("data:image/png,raw") is None and split_data_url("https://x") is None


def test_user_contents_lists_user_messages_with_list_content_and_their_freshness():
    body = {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "a"}]},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "user", "content": [{"type": "text", "text": "d"}]},
    ]}  # fmt: skip
    assert [(i, fresh) for i, _, fresh in user_contents(body)] == [(0, False), (3, True)]
    assert list(user_contents({"messages": "nope"})) == []


def test_a_block_writes_its_data_and_note_in_its_list_shape():
    url = MediaBlock(("u",), "QUJD", "image/png", None, ("l",), "text", True, False)
    assert url.data_value("WFla", "image/jpeg") == "data:image/jpeg;base64,WFla"
    assert url.note_literal("n") == '{"type": "text", "text": "n"}'
    inline = MediaBlock(("d",), "QUJD", "image/png", ("t",), ("l",), "", True, False)
    assert inline.data_value("WFla", "image/jpeg") == "WFla" and inline.note_literal("n") == '{"text": "n"}'
