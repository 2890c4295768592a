"""Search results are records: every title, URL, id and date kept, long content trimmed."""

from __future__ import annotations

import json

from compressors import Context, compress
from compressors.search_records import looks_like_records

FILLER = "The committee met again in the spring and discussed the schedule at length without a decision. "


def _tavily(n: int = 8) -> str:
    records = []
    for i in range(n):
        content = FILLER * 4 + f"The ledger checksum algorithm in release {i}.2 uses CRC-32C for every batch. " + FILLER * 3
        records.append(f"Title: Ledger sync notes part {i}\nURL: https://docs.example.org/ledger/{i}\nScore: 0.{90 - i}\nContent: {content.strip()}")
    return "\n\n".join(records)


def test_every_title_url_and_score_survives_and_content_keeps_the_query_sentences() -> None:
    text = _tavily()
    result = compress(text, Context(tool_name="mcp__tavily__search", tool_args={"query": "ledger checksum"}, query="which checksum does the ledger use?"))
    assert result.kind == "records" and len(result.text) < 0.6 * len(text)
    for i in range(8):
        assert f"Title: Ledger sync notes part {i}" in result.text
        assert f"URL: https://docs.example.org/ledger/{i}" in result.text
        assert f"Score: 0.{90 - i}" in result.text
        assert f"release {i}.2 uses CRC-32C" in result.text
    assert "sentences folded" in result.text and all(f.first_line == f.last_line for f in result.folds)


def test_web_search_links_are_kept_whole() -> None:
    links = [{"title": f"Pagination in search-records, part {i}", "url": f"https://github.com/acme/crm/issues/{400 + i}"} for i in range(30)]
    summary = " ".join([FILLER] * 10)
    text = f'Web search results for query: "search-records pagination"\n\nLinks: {json.dumps(links)}\n\n{summary}'
    assert looks_like_records(text)
    result = compress(text, Context(tool_name="WebSearch", tool_args={"query": "search-records pagination"}, query="find the pagination issue"))
    assert result.kind == "records"
    assert f"Links: {json.dumps(links)}" in result.text  # the model cites these next


def test_prose_without_records_is_not_mistaken_for_them() -> None:
    assert not looks_like_records(FILLER * 50)
    assert not looks_like_records("Title: a lone heading\n" + FILLER * 20)
