"""Keep the CA in HEADROOM_HOME even when mitmdump is started without `--set confdir`."""

from __future__ import annotations

import os

from mitmproxy import ctx

from addon.home import confdir, private_dir
from pathlib import Path

MITMPROXY_DEFAULT_CONFDIR = "~/.mitmproxy"


class UseHeadroomConfdir:
    """A bare `mitmdump -s addon/headroom.py` would use ~/.mitmproxy; `scripts/wrap` trusts
    the CA under HEADROOM_HOME, so move to it unless the user chose a confdir."""

    def running(self) -> None:
        if ctx.options.confdir != MITMPROXY_DEFAULT_CONFDIR:
            return
        target = private_dir(confdir(Path(ctx.options.headroom_home).expanduser()))
        ctx.options.update(confdir=os.fspath(target))
