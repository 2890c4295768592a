"""Headroom: `mitmdump -s addon/headroom.py` (or mitmweb) loads this file.

Only LLM API hosts are intercepted; their request bodies are compressed in place. See
docs/ARCHITECTURE.md for the path a request takes.
"""

from __future__ import annotations

import os
import sys

# mitmproxy loads this file by path; make the repository importable when not installed.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from addon.view.flow_view import FlowView  # noqa: E402
from addon.proxy.host_filter import HostFilter  # noqa: E402
from addon.ledger.ledger import Ledger  # noqa: E402
from addon.proxy.local_defaults import LocalDefaults  # noqa: E402
from addon.retrieval.answer_retrieval import AnswerRetrieval  # noqa: E402
from addon.compression.compression import Compression  # noqa: E402
from addon.proxy.response_streaming import ResponseStreaming  # noqa: E402
from addon.retrieval.stream_responder import StreamResponder  # noqa: E402

addons = [LocalDefaults(), HostFilter(), AnswerRetrieval(), StreamResponder(), Compression(), ResponseStreaming(), Ledger(), FlowView()]
