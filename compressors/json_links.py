"""REST APIs' hypermedia in JSON tool output: link fields a model does not read.

GitHub's API (and the MCP servers that pass it on) repeats, in every issue, comment, user and
label, a dozen API URLs (`url`, `events_url`, `followers_url`, URL templates such as
`…/following{/other_user}`), a GraphQL `node_id` and an avatar: ~40% of the tokens of GitHub MCP
results in the Claude Code corpus, none of them among the strings the model used next. They
are left out (lossy, with a fold note naming them; the original stays retrievable); a web URL
(`html_url`, a link on the site rather than the API) and every other field stay.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlsplit

OPAQUE_IDS = frozenset({"node_id", "gravatar_id"})  # ids that only the API itself resolves
LINK_KEYS = ("url", "href", "avatar_url")


def is_api_link(key: str, value: Any) -> bool:
    """An API link field: a URL template, or a link to an `api.` host, under a link-named key."""
    if type(value) is not str:
        return False
    if key in OPAQUE_IDS:
        return True
    if not (key.endswith("_url") or key in LINK_KEYS):
        return False
    if "{" in value and "}" in value:
        return True  # a URL template (RFC 6570): a recipe for the API client, not data
    try:
        host = urlsplit(value).hostname or ""
    except ValueError:
        return False
    return host.startswith("api.") or key == "avatar_url"


def without_api_links(document: Any) -> tuple[Any, Counter[str]]:
    """The document without its API link fields, and how many of each key went."""
    dropped: Counter[str] = Counter()

    def strip(value: Any) -> Any:
        if type(value) is dict:
            kept = {}
            for key, item in value.items():
                if is_api_link(key, item):
                    dropped[key] += 1
                else:
                    kept[key] = strip(item)
            return kept
        if type(value) is list:
            return [strip(item) for item in value]
        return value

    return strip(document), dropped
