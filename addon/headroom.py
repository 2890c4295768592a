"""Headroom: `mitmdump -s addon/headroom.py` (or mitmweb) loads this file.

Only LLM API hosts are intercepted; their request bodies are compressed in place. The addons
are built here, with the services they share handed to each; docs/ARCHITECTURE.md follows a
request through them.
"""

from __future__ import annotations

import os
import sys

# mitmproxy loads this file by path; make the repository importable when not installed.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from addon.assembly import build_addons  # noqa: E402

addons = build_addons().in_order()
